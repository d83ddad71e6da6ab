"""The container image: deploy/Containerfile built by scripts/build-image.sh with buildah
(`--isolation chroot --storage-driver vfs`), its docker-archive loaded into a store of the test's
own that is deleted at the end, its configuration read back with `buildah inspect`, and its root
filesystem (a `buildah from` + `buildah mount` working container) run with `chroot` as the
image's user: the same binary, libraries, CA bundle, zoneinfo, passwd and health-check client a
container runtime would start. Containers cannot be started on the CI machine, so this is how
the image is run.

/proc and /dev are mounted, and resolv.conf and a test CA bundle bound, inside an
`unshare --mount` namespace, as a runtime does; they vanish with the namespace.
"""

import datetime
import http.server
import json
import os
import shutil
import signal
import socket
import stat
import struct
import subprocess
import tarfile
import threading
import time
import zoneinfo
from pathlib import Path

import pytest

import firehose_standin as F
import relay as R

pytestmark = pytest.mark.release_only

IMAGE_UID = IMAGE_GID = 10514
SPOOL = "/var/spool/kinesyslog"
BUILD_TIMEOUT = 600


class Buildah:
    """buildah on a vfs store of its own (root and runroot under `store`)."""

    def __init__(self, store):
        self.store = Path(store)

    def __call__(self, *args, check=True):
        p = subprocess.run(
            ["buildah", "--root", str(self.store / "root"), "--runroot",
             str(self.store / "run"), "--storage-driver", "vfs", *map(str, args)],
            capture_output=True, text=True, timeout=BUILD_TIMEOUT,
        )
        if check:
            assert p.returncode == 0, f"buildah {args[0]} failed ({p.returncode}):\n{p.stderr}"
        return p

    def remove_everything(self):
        self("rm", "--all", check=False)
        self("rmi", "--all", "--force", check=False)


@pytest.fixture(scope="module")
def image(tmp_path_factory):
    """The image built from the binary under test, written as the archive operators load, and
    loaded from it into a store of the test's own; all removed afterwards."""
    store = tmp_path_factory.mktemp("image-store")
    buildah = Buildah(store)
    try:
        archive = store / "kinesyslog-image.tar"
        scratch = store / "tmp"
        scratch.mkdir()
        p = subprocess.run(
            [str(R.REPO / "scripts" / "build-image.sh"), "--binary", R.binary(),
             "-o", str(archive)],
            capture_output=True, text=True, timeout=BUILD_TIMEOUT,
            env=dict(os.environ, TMPDIR=str(scratch)),
        )
        assert p.returncode == 0, f"build-image.sh failed:\n{p.stdout}\n{p.stderr}"
        # The script's own build store and staged root filesystem are gone.
        assert list(scratch.iterdir()) == []
        version = subprocess.run([R.binary(), "--version"], capture_output=True, text=True,
                                 check=True).stdout.split()[1]
        tag = f"localhost/kinesyslog:{version}"
        buildah("pull", "--quiet", f"docker-archive:{archive}")
        inspected = json.loads(buildah("inspect", "--type", "image", tag).stdout)
        yield dict(buildah=buildah, tag=tag, version=version, archive=archive,
                   config=inspected["Docker"]["config"])
    finally:
        buildah.remove_everything()
        shutil.rmtree(store, ignore_errors=True)


@pytest.fixture(scope="module")
def rootfs(image):
    """The image's root filesystem: a working container, mounted (vfs: a plain directory)."""
    buildah = image["buildah"]
    container = buildah("from", "--pull-never", image["tag"]).stdout.strip().splitlines()[-1]
    try:
        root = Path(buildah("mount", container).stdout.strip())
        # A runtime creates these mount points in a FROM scratch container; here they exist only
        # in this working container.
        for d in ("proc", "dev"):
            (root / d).mkdir(exist_ok=True)
        (root / "etc" / "resolv.conf").touch()
        yield root
    finally:
        buildah("umount", container, check=False)
        buildah("rm", container, check=False)


def image_env(image, **overrides):
    """The environment a runtime gives the entrypoint: the image's Env (PATH and KINESYSLOG_*),
    HOME from the image's passwd, then the test's settings."""
    env = dict(v.split("=", 1) for v in image["config"]["Env"])
    env["HOME"] = "/home/kinesyslog"
    env.update({k: str(v) for k, v in overrides.items() if v is not None})
    for k in [k for k, v in overrides.items() if v is None]:
        env.pop(k, None)
    return env


def env_port(image):
    """The metrics port the image's Env sets (and its HEALTHCHECK calls)."""
    return dict(v.split("=", 1) for v in image["config"]["Env"])["KINESYSLOG_PROMETHEUS_PORT"]


def in_rootfs(root, argv, binds=()):
    """argv run as the image's user inside `root`, in a private mount namespace with /proc, /dev
    and the (source, target-in-root) bind mounts of `binds`. unshare, sh and chroot exec one
    another, so the returned command's pid is the program's."""
    mounts = [f"/usr/bin/mount -t proc proc {root}/proc", f"/usr/bin/mount --bind /dev {root}/dev"]
    mounts += [f"/usr/bin/mount --bind '{src}' '{root}{dst}'" for src, dst in binds]
    script = " && ".join(mounts) + ' && exec /usr/sbin/chroot "$@"'
    return ["/usr/bin/unshare", "--mount", "--propagation", "private", "/bin/sh", "-c", script,
            "sh", f"--userspec={IMAGE_UID}:{IMAGE_GID}", f"--groups={IMAGE_GID}", str(root),
            *map(str, argv)]


class RootfsRelay(R.Relay):
    """The image's entrypoint, /usr/bin/kinesyslog, in the root filesystem (R.Relay's process
    handling: stderr to a file, ready, stop, counters)."""

    def __init__(self, root, args, log_dir, env, binds=()):
        log_dir = Path(log_dir)
        log_dir.mkdir(parents=True, exist_ok=True)
        self.args = list(args)
        n = 0
        while (log_dir / f"image-relay-{n}.stderr").exists():
            n += 1
        self.stderr_path = log_dir / f"image-relay-{n}.stderr"
        self.stdout_path = log_dir / f"image-relay-{n}.stdout"
        with open(self.stderr_path, "wb") as err, open(self.stdout_path, "wb") as out:
            self.proc = subprocess.Popen(
                in_rootfs(root, ["/usr/bin/kinesyslog", *self.args], binds), env=env,
                stdin=subprocess.DEVNULL, stdout=out, stderr=err,
            )
        self.returncode = None


@pytest.fixture
def started(rootfs):
    relays = []
    yield relays
    for r in relays:
        if r.running():
            r.kill()


def run_in_rootfs(root, argv, env, binds=(), timeout=30):
    return subprocess.run(in_rootfs(root, argv, binds), env=env, capture_output=True,
                          text=True, timeout=timeout)


# ---------------------------------------------------------------------------------------------
# The image's configuration


def test_image_config(image):
    c = image["config"]
    env = dict(v.split("=", 1) for v in c["Env"])
    assert c["User"] == f"{IMAGE_UID}:{IMAGE_GID}"
    assert c["StopSignal"] == "SIGTERM"
    assert c["Entrypoint"] == ["/usr/bin/kinesyslog"]
    assert c["Cmd"] == ["listen"]
    assert c["Volumes"] == {SPOOL: {}}
    assert env["KINESYSLOG_SPOOL_DIR"] == SPOOL
    port, metrics = env["KINESYSLOG_UDP_PORT"], env["KINESYSLOG_PROMETHEUS_PORT"]
    assert int(port) >= 1024 and env["KINESYSLOG_TCP_PORT"] == port
    assert set(c["ExposedPorts"]) == {f"{port}/udp", f"{port}/tcp", "6514/tcp", f"{metrics}/tcp"}
    # HEALTHCHECK survives (Docker format): the image's wget on /readyz of the metrics port.
    hc = c["Healthcheck"]
    assert hc["Test"][0] == "CMD" and hc["Test"][1] == "/usr/bin/wget"
    assert hc["Test"][-1] == f"http://127.0.0.1:{metrics}/readyz"
    assert hc["Interval"] > 0 and hc["Timeout"] > 0 and hc["Retries"] > 0
    labels = c["Labels"]
    assert labels["org.opencontainers.image.version"] == image["version"]
    assert labels["org.opencontainers.image.title"] == "kinesyslog"
    assert len(labels["org.opencontainers.image.revision"]) == 40
    # The archive itself: one layer, tagged, the same configuration.
    with tarfile.open(image["archive"]) as tar:
        manifest = json.load(tar.extractfile("manifest.json"))
        assert manifest[0]["RepoTags"] == [image["tag"]]
        archived = json.load(tar.extractfile(manifest[0]["Config"]))["config"]
        assert len(manifest[0]["Layers"]) == 1
    assert archived["Healthcheck"] == hc and archived["User"] == c["User"]


def test_rootfs_holds_exactly_what_the_relay_needs(image, rootfs):
    # The relay is stripped, and every library ldd names is there (nothing else is).
    sections = subprocess.run(["readelf", "-S", rootfs / "usr/bin/kinesyslog"],
                              capture_output=True, text=True, check=True).stdout
    assert ".debug_info" not in sections and ".symtab" not in sections
    ldd = subprocess.run(["ldd", R.binary()], capture_output=True, text=True, check=True).stdout
    needed = set()
    for line in ldd.splitlines():
        parts = line.split()
        path = parts[2] if len(parts) > 2 and parts[1] == "=>" else parts[0]
        if path.startswith("/"):
            needed.add(os.path.realpath(os.path.dirname(path)) + "/" + os.path.basename(path))
    libs = {"/" + str(p.relative_to(rootfs)) for p in rootfs.glob("usr/lib*/**/*")
            if p.is_file() and ".so" in p.name}
    assert libs == needed
    # The CA bundle where libcurl was built to look, the machine's bundle.
    ca = subprocess.run(["curl-config", "--ca"], capture_output=True, text=True).stdout.strip()
    ca = ca or "/etc/ssl/certs/ca-certificates.crt"
    assert (rootfs / ca.lstrip("/")).read_bytes() == Path(ca).read_bytes()
    assert (rootfs / "usr/share/zoneinfo/Europe/Berlin").is_file()
    passwd = (rootfs / "etc/passwd").read_text().splitlines()
    assert f"kinesyslog:x:{IMAGE_UID}:{IMAGE_GID}:kinesyslog relay:/home/kinesyslog:" \
           "/usr/sbin/nologin" in passwd
    assert f"kinesyslog:x:{IMAGE_GID}:" in (rootfs / "etc/group").read_text().splitlines()
    assert "hosts: files dns" in (rootfs / "etc/nsswitch.conf").read_text().splitlines()
    wget = rootfs / "usr/bin/wget"
    assert wget.stat().st_mode & 0o111 == 0o111 and wget.stat().st_uid == 0
    top = sorted(p.name for p in rootfs.iterdir() if p.name not in ("proc", "dev"))
    assert top == ["bin", "etc", "home", "lib", "lib64", "usr", "var"]


def test_user_can_write_only_the_volume(image, rootfs, tmp_path):
    # Every file and directory outside the volume is root's and writable by root alone.
    spool = rootfs / SPOOL.lstrip("/")
    for dirpath, dirnames, filenames in os.walk(rootfs):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            if p == spool or spool in p.parents or p.parent == rootfs and name in ("proc", "dev"):
                continue
            st = p.lstat()
            if stat.S_ISLNK(st.st_mode):
                continue
            assert st.st_uid == 0 and st.st_gid == 0, f"{p} belongs to {st.st_uid}:{st.st_gid}"
            assert st.st_mode & 0o022 == 0, f"{p} is writable by others: {oct(st.st_mode)}"
    st = spool.stat()
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (IMAGE_UID, IMAGE_GID, 0o750)
    # And the relay, as the image's user, is refused everywhere else: exit 77 (the OS refused).
    for where in ("/", "/etc", "/usr/bin", "/home/kinesyslog", "/var/spool"):
        env = image_env(image, KINESYSLOG_ADDRESS="127.0.0.1", KINESYSLOG_TCP_PORT=0,
                        KINESYSLOG_UDP_PORT=R.free_port(), KINESYSLOG_PROMETHEUS_PORT=None,
                        KINESYSLOG_SPOOL_DIR=where, KINESYSLOG_OUTPUT_DIR=f"{SPOOL}/out")
        p = run_in_rootfs(rootfs, ["/usr/bin/kinesyslog", "listen"], env)
        assert p.returncode == 77, f"spool {where}: exit {p.returncode}\n{p.stderr}"
    assert not (spool / "out").exists() or not any((spool / "out").iterdir())


# ---------------------------------------------------------------------------------------------
# The relay in the image


def wait_for(done, what, timeout=R.WAIT_TIMEOUT):
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_relay_in_rootfs_delivers_and_stops_on_sigterm(image, rootfs, started, tmp_path):
    """The entrypoint with the image's Env (spool in the volume), as uid 10514, on free ports:
    logger's message and an RFC 3164 one read in Europe/Berlin arrive, decoded both by the
    image's `kinesyslog dump` and by Python; SIGTERM exits 0; the image's HEALTHCHECK command
    succeeds against the relay's /readyz."""
    udp, tcp, metrics = R.free_port(), R.free_port(), R.free_port(udp=False)
    out = f"{SPOOL}/out"
    env = image_env(
        image, KINESYSLOG_ADDRESS="127.0.0.1", KINESYSLOG_UDP_PORT=udp, KINESYSLOG_TCP_PORT=tcp,
        KINESYSLOG_OUTPUT_DIR=out, KINESYSLOG_FLUSH_INTERVAL="0.2",
        KINESYSLOG_RFC3164_TIMEZONE="Europe/Berlin",
        KINESYSLOG_PROMETHEUS_PORT=metrics,
        KINESYSLOG_PROMETHEUS_ADDRESS="127.0.0.1",
    )
    relay = RootfsRelay(rootfs, ["listen"], tmp_path / "logs", env)
    started.append(relay)
    relay.wait_ready()
    status = Path(f"/proc/{relay.proc.pid}/status").read_text()
    assert f"Uid:\t{IMAGE_UID}\t{IMAGE_UID}\t{IMAGE_UID}\t{IMAGE_UID}" in status
    assert f"Gid:\t{IMAGE_GID}\t" in status and f"Groups:\t{IMAGE_GID}" in status
    assert f"spool {SPOOL}" in relay.stderr

    subprocess.run(["logger", "-n", "127.0.0.1", "-P", str(udp), "-t", "image",
                    "hello from the host"], check=True, timeout=30)
    stamp = R.rfc3164_stamp(datetime.datetime.now(zoneinfo.ZoneInfo("Europe/Berlin")))
    R.tcp_send(tcp, f"<13>{stamp} host tag: local time in Berlin\n".encode())
    output = R.Output(rootfs / out.lstrip("/"))
    events = output.wait_count(2)
    assert len(events) == 2, events
    hello = [e for e in events if e["message"].endswith(" hello from the host")]
    berlin = [e for e in events if e["message"].endswith(" tag: local time in Berlin")]
    assert len(hello) == 1 and len(berlin) == 1, events
    # Read in Europe/Berlin from the image's zoneinfo (UTC would be an hour or two off).
    assert berlin[0]["timestamp"] == R.rfc3164_ms(stamp, tz=zoneinfo.ZoneInfo("Europe/Berlin"))

    # The image's own `kinesyslog dump` decodes what was delivered.
    objects = [f"{out}/{rel}" for rel in output.objects()]
    dump = run_in_rootfs(rootfs, ["/usr/bin/kinesyslog", "dump", "--json", *objects], env)
    assert dump.returncode == 0, dump.stderr
    assert "hello from the host" in dump.stdout and "local time in Berlin" in dump.stdout
    # Everything the relay wrote belongs to the image's user.
    for p in (rootfs / SPOOL.lstrip("/")).rglob("*"):
        assert p.stat().st_uid == IMAGE_UID, p

    # The image's command, on the port this test gave the relay instead of the image's.
    test = image["config"]["Healthcheck"]["Test"][1:]
    test[-1] = test[-1].replace(f":{env_port(image)}/", f":{metrics}/")
    p = run_in_rootfs(rootfs, test, env)
    assert p.returncode == 0, f"HEALTHCHECK {test} exited {p.returncode}: {p.stderr}"

    assert relay.stop(signal.SIGTERM) == 0, relay.stderr
    assert R.final_counters(relay.stderr)["messages_received"] == 2


class ReadyzStandIn:
    """/readyz answering `code` (200, then 503 with a reason): what the health check sees."""

    def __init__(self):
        self.code = 200
        standin = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                body = b"ready\n" if standin.code == 200 else b"spool full\n"
                self.send_response(standin.code if self.path == "/readyz" else 404)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def port(self):
        return self.server.server_address[1]

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def test_healthcheck_command_exit_codes(image, rootfs):
    """The HEALTHCHECK command, run in the image as its user (no proxy honoured): exit 0 on 200,
    non-zero on 503 and when nothing listens."""
    test = image["config"]["Healthcheck"]["Test"][1:]
    env = image_env(image, http_proxy="http://127.0.0.1:9/", HTTP_PROXY="http://127.0.0.1:9/")
    readyz = ReadyzStandIn()
    try:
        url = f"http://127.0.0.1:{readyz.port}/readyz"
        p = run_in_rootfs(rootfs, test[:-1] + [url], env)
        assert p.returncode == 0 and p.stdout == "ready\n", p.stderr
        readyz.code = 503
        p = run_in_rootfs(rootfs, test[:-1] + [url], env)
        assert p.returncode != 0 and "503" in p.stderr, p.stderr
    finally:
        readyz.stop()
    p = run_in_rootfs(rootfs, test[:-1] + [url], env)
    assert p.returncode != 0


# ---------------------------------------------------------------------------------------------
# Firehose over HTTPS, by name, from the image


class DnsStub:
    """A DNS server on `address`:53 (UDP) answering A queries for `names` with 127.0.0.1,
    nothing for AAAA, NXDOMAIN otherwise; records every question."""

    def __init__(self, address, names):
        self.names = {n.lower() for n in names}
        self.questions = []
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((address, 53))
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while True:
            try:
                data, peer = self.sock.recvfrom(1500)
            except OSError:
                return
            try:
                self.sock.sendto(self._answer(data), peer)
            except (IndexError, struct.error, OSError):
                continue

    def _answer(self, data):
        ident, flags = struct.unpack("!HH", data[:4])
        labels, i = [], 12
        while data[i]:
            labels.append(data[i + 1:i + 1 + data[i]].decode().lower())
            i += 1 + data[i]
        qtype = struct.unpack("!H", data[i + 1:i + 3])[0]
        question = data[12:i + 5]
        name = ".".join(labels)
        self.questions.append((name, qtype))
        known = name in self.names
        answers = b""
        if known and qtype == 1:
            answers = struct.pack("!HHHIH", 0xC00C, 1, 1, 60, 4) + socket.inet_aton("127.0.0.1")
        rcode = 0 if known else 3
        header = struct.pack("!HHHHHH", ident, 0x8180 | (flags & 0x0100) | rcode, 1,
                             1 if answers else 0, 0, 0)
        return header + question + answers

    def stop(self):
        self.sock.close()


def test_firehose_over_https_by_name_from_rootfs(image, rootfs, started, firehose, tmp_path):
    """The relay in the image resolves its endpoint's name through the image's nsswitch.conf
    and a runtime's resolv.conf (a DNS stub), and verifies the endpoint's certificate against
    the bundle at the image's CA path (a test CA bound over it): one logger message reaches
    the Firehose stand-in behind haproxy's TLS."""
    name = f"firehose.{firehose.region}.amazonaws.com"
    pki = R.Pki(tmp_path / "pki")
    cert, key, _ = pki.issue("endpoint", dns=[name], cn=name, client=False)
    combined = tmp_path / "endpoint-combined.pem"
    combined.write_bytes(cert.read_bytes() + key.read_bytes())
    https = R.free_port(udp=False)
    cfg = tmp_path / "haproxy-tls.cfg"
    cfg.write_text(
        "global\n    nbthread 1\n    maxconn 100\n"
        "defaults\n    mode tcp\n    timeout connect 5s\n    timeout client 60s\n"
        "    timeout server 60s\n"
        f"frontend tls\n    bind 127.0.0.1:{https} ssl crt {combined}\n    default_backend s\n"
        f"backend s\n    server standin 127.0.0.1:{firehose.port}\n"
    )
    resolv = tmp_path / "resolv.conf"
    resolv.write_text("nameserver 127.0.0.153\noptions timeout:2 attempts:2\n")
    ca_bundle = "/etc/ssl/certs/ca-certificates.crt"
    haproxy = subprocess.Popen([R.HAPROXY, "-db", "-f", str(cfg)], stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    dns = DnsStub("127.0.0.153", [name])
    try:
        wait_for(lambda: R.tcp_listening(https), "haproxy")
        udp = R.free_port()
        endpoint = f"https://{name}:{https}"
        env = image_env(
            image, KINESYSLOG_ADDRESS="127.0.0.1", KINESYSLOG_UDP_PORT=udp,
            KINESYSLOG_TCP_PORT=0, KINESYSLOG_PROMETHEUS_PORT=None,
            KINESYSLOG_FLUSH_INTERVAL="0.2", KINESYSLOG_STREAM=F.DEFAULT_STREAM,
            KINESYSLOG_REGION=firehose.region, KINESYSLOG_ENDPOINT_URL=endpoint,
            KINESYSLOG_STS_ENDPOINT_URL=endpoint,
            AWS_CONFIG_FILE="/nonexistent/config",
            AWS_SHARED_CREDENTIALS_FILE="/nonexistent/credentials",
            AWS_EC2_METADATA_DISABLED="true", **firehose.default_key.env(),
        )
        relay = RootfsRelay(rootfs, ["listen"], tmp_path / "logs", env,
                            binds=[(resolv, "/etc/resolv.conf"), (pki.ca, ca_bundle)])
        started.append(relay)
        relay.wait_ready()
        subprocess.run(["logger", "-n", "127.0.0.1", "-P", str(udp), "-t", "image",
                        "over https by name"], check=True, timeout=30)
        firehose.wait_count(1, lambda e: e["message"].endswith("over https by name"))
        assert relay.stop() == 0, relay.stderr
        assert (name, 1) in dns.questions
    finally:
        dns.stop()
        haproxy.terminate()
        haproxy.wait(10)
