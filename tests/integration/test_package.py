"""The Debian package and its systemd service, as an operator meets them: scripts/package.sh
builds the .deb, lintian finds no error, `systemd-analyze` verifies the installed unit and rates
its exposure at most 2.0, `dpkg -i` installs it, the installed relay runs as the unit would run
it (unprivileged user, only CAP_NET_BIND_SERVICE, umask 0077, settings from the installed
defaults file) and delivers what `logger` sends, and `dpkg -r` / `dpkg -P` remove it cleanly.

Installing needs root (CI runs as root); elsewhere the install test fails, as it does on a
machine that already has kinesyslog installed (left alone). Whatever happens, the test purges
what it installed and stops what it started."""

import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

import relay as R

pytestmark = pytest.mark.release_only

UNIT = R.REPO / "debian" / "kinesyslog.service"
DEFAULTS = R.REPO / "debian" / "kinesyslog.default"
MAX_EXPOSURE = 2.0
# What the package installs that the test looks for.
INSTALLED = {
    "binary": Path("/usr/bin/kinesyslog"),
    "unit": Path("/lib/systemd/system/kinesyslog.service"),
    "defaults": Path("/etc/default/kinesyslog"),
    "man": Path("/usr/share/man/man1/kinesyslog.1.gz"),
}


def project_version():
    m = re.search(r"^project\(kinesyslog VERSION ([0-9.]+)", (R.REPO / "CMakeLists.txt").read_text(),
                  re.M)
    assert m
    return m.group(1)


def unit_settings(path):
    """(key, value) pairs of a unit file, in order (keys may repeat)."""
    pairs = []
    for line in Path(path).read_text().splitlines():
        line = line.strip()
        if not line or line[0] in "#;[":
            continue
        key, _, value = line.partition("=")
        pairs.append((key.strip(), value.strip()))
    return pairs


def unit_value(path, key):
    values = [v for k, v in unit_settings(path) if k == key]
    assert len(values) == 1, (key, values)
    return values[0]


def environment_file(path):
    """KEY=VALUE assignments of an EnvironmentFile= as systemd reads them (comments skipped,
    one level of surrounding quotes removed)."""
    env = {}
    for line in Path(path).read_text().splitlines():
        line = line.strip()
        if not line or line[0] in "#;":
            continue
        key, sep, value = line.partition("=")
        assert sep and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key), line
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        env[key] = value
    return env


def help_options(binary):
    text = subprocess.run([binary, "listen", "--help"], capture_output=True, text=True,
                          check=True, timeout=20).stdout
    options = set(re.findall(r"^\s+(?:-\w,)?--([a-z0-9-]+)", text, re.M)) - {"help"}
    assert len(options) > 30, text
    return options


def exposure(unit_path):
    """`systemd-analyze security --offline=true` on a unit file: the overall exposure figure."""
    result = subprocess.run(["systemd-analyze", "security", "--offline=true", str(unit_path)],
                            capture_output=True, text=True, timeout=60)
    m = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", result.stdout)
    assert m, result.stdout + result.stderr
    return float(m.group(1)), result.stdout


# ---------------------------------------------------------------------------------------------
# Without installing


def test_defaults_file_lists_every_option_of_listen_help(relay_binary):
    listed = set(re.findall(r"^#?KINESYSLOG_([A-Z0-9_]+)=", DEFAULTS.read_text(), re.M))
    wanted = {o.upper().replace("-", "_") for o in help_options(relay_binary)}
    assert wanted - listed == set(), "options missing from debian/kinesyslog.default"
    # Options of the metrics endpoint, documented ahead of it.
    assert {"PROMETHEUS_PORT", "PROMETHEUS_ADDRESS", "UNHEALTHY_SPOOL_AGE"} <= listed
    # Each line is commented out with its meaning and default just above it.
    text = DEFAULTS.read_text()
    for name in listed:
        m = re.search(rf"# --{name.lower().replace('_', '-')}: (.+?)\n#KINESYSLOG_{name}=", text, re.S)
        assert m and "Default" in m.group(1), name
    # Nothing is set: the relay's own defaults apply until the operator says otherwise.
    assert environment_file(DEFAULTS) == {}


def test_unit_fits_the_relay():
    grace_default = 10  # --shutdown-grace; the relay exits at the latest 15 s past the grace
    stop = unit_value(UNIT, "TimeoutStopSec")
    assert float(stop) > grace_default + 15
    assert unit_value(UNIT, "ExecStart") == "/usr/bin/kinesyslog listen"
    assert unit_value(UNIT, "EnvironmentFile") == "-/etc/default/kinesyslog"
    assert unit_value(UNIT, "Environment") == "KINESYSLOG_SPOOL_DIR=/var/lib/kinesyslog"
    assert unit_value(UNIT, "StateDirectory") == "kinesyslog"
    assert unit_value(UNIT, "DynamicUser") == "yes"
    assert unit_value(UNIT, "ExecReload") == "/bin/kill -HUP $MAINPID"
    assert unit_value(UNIT, "Restart") == "on-failure"
    assert set(unit_value(UNIT, "RestartPreventExitStatus").split()) == {"2", "77", "78"}
    assert unit_value(UNIT, "AmbientCapabilities") == "CAP_NET_BIND_SERVICE"
    assert unit_value(UNIT, "CapabilityBoundingSet") == "CAP_NET_BIND_SERVICE"
    assert unit_value(UNIT, "UMask") == "0077"
    assert unit_value(UNIT, "PrivateTmp") == "yes"  # and the spool is not in /tmp
    figure, report = exposure(UNIT)
    assert figure <= MAX_EXPOSURE, report


# ---------------------------------------------------------------------------------------------
# The package: build, lintian, install, run, remove, purge


def free_privileged_port():
    """A port below 1024 free for TCP and UDP on 127.0.0.1 (binding it needs the capability
    the unit grants)."""
    for port in range(700, 1000):
        held = []
        try:
            for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
                s = socket.socket(socket.AF_INET, kind)
                held.append(s)
                s.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
        finally:
            for s in held:
                s.close()
    raise RuntimeError("no free port below 1024")


def dpkg_status(package="kinesyslog"):
    result = subprocess.run(["dpkg-query", "-W", "-f=${Status}", package], capture_output=True,
                            text=True)
    return result.stdout.strip() if result.returncode == 0 else "not-installed"


def run(*args, timeout=600):
    result = subprocess.run(list(args), capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{args}: {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result


def leftovers():
    """Paths outside dpkg's database that name the package: unit links, helper state."""
    found = []
    for root in ("/etc/systemd/system", "/var/lib/systemd/deb-systemd-helper-enabled",
                 "/var/lib/systemd/deb-systemd-helper-masked", "/etc/default", "/usr/bin",
                 "/lib/systemd/system", "/usr/share/doc", "/usr/share/man/man1"):
        for dirpath, dirnames, filenames in os.walk(root):
            for name in dirnames + filenames:
                if "kinesyslog" in name:
                    found.append(os.path.join(dirpath, name))
    return found


@pytest.fixture(scope="module")
def package():
    """Builds the .deb with the one documented command; its build time is printed."""
    started = time.monotonic()
    result = subprocess.run([str(R.REPO / "scripts" / "package.sh"), "--no-lintian"],
                            capture_output=True, text=True, timeout=1800)
    assert result.returncode == 0, result.stdout + result.stderr
    version = project_version()
    debs = sorted((R.REPO / "build" / "package").glob(f"kinesyslog_{version}_*.deb"))
    dbgsym = sorted((R.REPO / "build" / "package").glob(f"kinesyslog-dbgsym_{version}_*.deb"))
    changes = sorted((R.REPO / "build" / "package").glob(f"kinesyslog_{version}_*.changes"))
    assert len(debs) == 1 and len(dbgsym) == 1 and len(changes) == 1
    print(f"\npackage built in {time.monotonic() - started:.0f} s: {debs[0].name} "
          f"{debs[0].stat().st_size // 1024} KiB")
    return debs[0], dbgsym[0], changes[0]


def test_lintian_reports_no_error(package):
    _, _, changes = package
    result = subprocess.run(["lintian", "--display-info", str(changes)], capture_output=True,
                            text=True, timeout=600)
    tags = [line for line in result.stdout.splitlines() if re.match(r"^[EWIXPO]: ", line)]
    print("\nlintian:\n" + "\n".join(tags))
    assert not [t for t in tags if t.startswith("E: ")], result.stdout + result.stderr
    assert result.returncode == 0, result.stdout + result.stderr


def test_package_contents(package, tmp_path):
    deb, dbgsym, _ = package
    run("dpkg-deb", "-x", str(deb), str(tmp_path))
    binary = tmp_path / "usr/bin/kinesyslog"
    # Stripped: the symbols live in the -dbgsym package, found by build id.
    sections = run("readelf", "-S", "-W", str(binary)).stdout
    assert ".debug_info" not in sections and ".symtab" not in sections
    # Debian's link hardening: PIE, full RELRO (BIND_NOW).
    assert "BIND_NOW" in run("readelf", "-d", str(binary)).stdout
    assert "GNU_RELRO" in run("readelf", "-l", "-W", str(binary)).stdout
    assert "Position-Independent" in run("readelf", "-h", str(binary)).stdout
    build_id = re.search(r"Build ID: ([0-9a-f]+)", run("readelf", "-n", str(binary)).stdout)[1]
    listing = run("dpkg-deb", "-c", str(dbgsym)).stdout
    assert f"/usr/lib/debug/.build-id/{build_id[:2]}/{build_id[2:]}.debug" in listing
    assert (tmp_path / "etc/default/kinesyslog").read_text() == DEFAULTS.read_text()
    # It may hold AWS keys.
    assert (tmp_path / "etc/default/kinesyslog").stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "lib/systemd/system/kinesyslog.service").read_text() == UNIT.read_text()
    for doc in ("README.md.gz", "operations.md.gz", "copyright"):
        assert (tmp_path / "usr/share/doc/kinesyslog" / doc).is_file(), doc
    man = run("man", "-l", "-P", "cat", str(tmp_path / "usr/share/man/man1/kinesyslog.1.gz"))
    assert "--spool-dir" in man.stdout and "KINESYSLOG_" in man.stdout
    control = run("dpkg-deb", "-f", str(deb), "Version", "Package").stdout
    assert f"Version: {project_version()}" in control
    conffiles = run("dpkg-deb", "-I", str(deb), "conffiles").stdout.split()
    assert conffiles == ["/etc/default/kinesyslog"]


class InstalledRelay:
    """The installed relay started as kinesyslog.service starts it."""

    def __init__(self, work, port):
        self.work = work
        unit = INSTALLED["unit"]
        env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "AWS_EC2_METADATA_DISABLED": "true"}
        key, _, value = unit_value(unit, "Environment").partition("=")
        env[key] = value
        env.update(environment_file(INSTALLED["defaults"]))
        # What an operator adds to /etc/default/kinesyslog; the spool stands in for the unit's
        # StateDirectory (no systemd runs here), owned by the service user, mode 0700.
        self.spool = work / "state"
        self.out = work / "state" / "output"
        env.update({
            "KINESYSLOG_SPOOL_DIR": str(self.spool),
            "KINESYSLOG_OUTPUT_DIR": str(self.out),
            "KINESYSLOG_ADDRESS": "127.0.0.1",
            "KINESYSLOG_UDP_PORT": str(port),
            "KINESYSLOG_TCP_PORT": str(port),
            "KINESYSLOG_FLUSH_INTERVAL": "0.2",
        })
        self.spool.mkdir(mode=0o700)
        shutil.chown(self.spool, "nobody", "nogroup")
        command = shlex.split(unit_value(unit, "ExecStart"))
        # User=nobody in place of the dynamic user, with the unit's capabilities and umask.
        caps = unit_value(unit, "AmbientCapabilities").lower().removeprefix("cap_")
        prefix = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                  f"--inh-caps=-all,+{caps}", f"--ambient-caps=-all,+{caps}",
                  f"--bounding-set=-all,+{caps}", "--no-new-privs",
                  "sh", "-c", f"umask {unit_value(unit, 'UMask')} && exec \"$@\"", "sh"]
        self.stderr_path = work / "relay.stderr"
        with open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(prefix + command, env=env, stdin=subprocess.DEVNULL,
                                         stdout=subprocess.DEVNULL, stderr=err)

    @property
    def stderr(self):
        return self.stderr_path.read_text(errors="replace")

    def wait_for(self, pattern, timeout=R.WAIT_TIMEOUT):
        deadline = time.monotonic() + timeout
        while not re.search(pattern, self.stderr):
            assert self.proc.poll() is None, f"relay exited {self.proc.returncode}:\n{self.stderr}"
            assert time.monotonic() < deadline, f"no {pattern!r} in:\n{self.stderr}"
            time.sleep(0.05)

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def test_install_run_remove_purge(package):
    # Not skipped: a skipped test would pass the suite without proving the package installs.
    assert os.geteuid() == 0, "dpkg -i needs root (CI runs as root)"
    deb, _, _ = package
    assert dpkg_status() == "not-installed", (
        f"kinesyslog is already installed here ({dpkg_status()}): the test leaves an operator's "
        "installation alone; remove it (dpkg -P kinesyslog) to run the test")
    assert not leftovers(), leftovers()
    work = Path(tempfile.mkdtemp(prefix="kinesyslog-package-"))
    os.chmod(work, 0o755)  # the service user reaches its state directory inside
    relay = None
    try:
        run("dpkg", "-i", str(deb))
        assert dpkg_status() == "install ok installed"
        files = [Path(p) for p in run("dpkg-query", "-L", "kinesyslog").stdout.split()]
        for path in INSTALLED.values():
            assert path in files and path.exists(), path
        assert INSTALLED["defaults"].stat().st_mode & 0o777 == 0o600
        assert run(str(INSTALLED["binary"]), "--version").stdout.strip() == (
            f"kinesyslog {project_version()}")
        # Installed disabled: nothing to deliver to until the defaults file says where.
        assert not Path("/etc/systemd/system/multi-user.target.wants/kinesyslog.service").exists()

        verify = subprocess.run(["systemd-analyze", "verify", str(INSTALLED["unit"])],
                                capture_output=True, text=True, timeout=60)
        assert verify.returncode == 0 and verify.stdout + verify.stderr == "", (
            verify.stdout + verify.stderr)
        figure, report = exposure(INSTALLED["unit"])
        print(f"\nsystemd-analyze security --offline=true: exposure {figure}")
        assert figure <= MAX_EXPOSURE, report

        # Installed but not configured: one line naming what is missing and exit 78, which
        # the unit's RestartPreventExitStatus= keeps from restarting in a loop.
        env = dict(environment_file(INSTALLED["defaults"]), PATH="/usr/bin:/bin")
        env.update([unit_value(INSTALLED["unit"], "Environment").split("=", 1)])
        env["KINESYSLOG_SPOOL_DIR"] = str(work)
        unconfigured = subprocess.run(shlex.split(unit_value(INSTALLED["unit"], "ExecStart")),
                                      env=env, capture_output=True, text=True, timeout=60)
        assert unconfigured.returncode == 78, unconfigured.stderr
        assert "no destination" in unconfigured.stderr or "no listener" in unconfigured.stderr
        assert "78" in unit_value(INSTALLED["unit"], "RestartPreventExitStatus").split()

        port = free_privileged_port()
        relay = InstalledRelay(work, port)
        relay.wait_for(r"\bready\b")
        # `systemctl reload`: the unit's ExecReload with the main pid.
        reload = unit_value(INSTALLED["unit"], "ExecReload").replace("$MAINPID",
                                                                    str(relay.proc.pid))
        run(*shlex.split(reload))
        relay.wait_for(r"SIGHUP received")
        texts = {"-d": "installed relay over udp", "-T": "installed relay over tcp"}
        for flag, text in texts.items():
            run("logger", flag, "-n", "127.0.0.1", "-P", str(port), "--rfc5424", "-t",
                "package-test", text)
        events = R.Output(relay.out).wait_count(2)
        got = sorted(e["message"].rsplit("] ", 1)[-1] for e in events)
        assert got == sorted(texts.values()), [e["message"] for e in events]
        assert all(e["owner"] == "000000000000" and e["stream"] == "127.0.0.1" for e in events)
        relay.proc.send_signal(signal.SIGTERM)
        assert relay.proc.wait(R.STOP_TIMEOUT) == 0, relay.stderr
        # UMask=0077: what the service wrote is its user's alone.
        written = [p for p in relay.spool.rglob("*")]
        assert written
        for path in written:
            assert path.stat().st_uid == 65534 and path.stat().st_mode & 0o077 == 0, path

        run("dpkg", "-r", "kinesyslog")
        assert dpkg_status() == "deinstall ok config-files"
        assert not INSTALLED["binary"].exists() and not INSTALLED["unit"].exists()
        assert INSTALLED["defaults"].exists()  # a conffile stays until purge

        run("dpkg", "-P", "kinesyslog")
        assert dpkg_status() == "not-installed"
        assert [p for p in files if p.is_file()] == []
        assert not leftovers(), leftovers()
    finally:
        if relay is not None:
            relay.kill()
        if dpkg_status() != "not-installed":
            subprocess.run(["dpkg", "-P", "kinesyslog"], capture_output=True, timeout=300)
        shutil.rmtree(work, ignore_errors=True)


# ---------------------------------------------------------------------------------------------
# The unit's system call filter against what the relay really calls


def filter_groups():
    """`systemd-analyze syscall-filter`: group name -> its entries (calls and @groups)."""
    out = subprocess.run(["systemd-analyze", "syscall-filter"], capture_output=True, text=True,
                         check=True, timeout=60).stdout
    groups, current = {}, None
    for line in out.splitlines():
        if line.startswith("@"):
            current = groups.setdefault(line.strip(), [])
        elif current is not None and line.strip() and not line.strip().startswith("#"):
            current.append(line.strip())
    return groups


def allowed_syscalls(unit_path):
    """The calls the unit's SystemCallFilter= lines leave allowed (an allow list, then `~`
    deny lists)."""
    groups = filter_groups()

    def expand(entry):
        if not entry.startswith("@"):
            return {entry}
        return set().union(*(expand(e) for e in groups[entry]))

    allowed = None
    for key, value in unit_settings(unit_path):
        if key != "SystemCallFilter":
            continue
        deny = value.startswith("~")
        names = set().union(*(expand(e) for e in value.lstrip("~").split()))
        if deny:
            allowed -= names
        else:
            allowed = names if allowed is None else allowed | names
    assert allowed, "no SystemCallFilter= allow list"
    return allowed


def test_relay_calls_only_what_the_units_filter_allows(dirs, firehose, tmp_path):
    """The relay under strace through start, delivery to Firehose (the stand-in, by name:
    DNS, HTTP), UDP and TCP intake, SIGHUP, SIGUSR1 and the SIGTERM drain: every system call it
    makes is one the unit allows (a refused call would fail with EPERM under the service)."""
    trace = tmp_path / "strace.out"
    udp, tcp = R.free_port(), R.free_port()
    args = R.listen_args(spool=dirs.spool, udp=[udp], tcp=[tcp], extra=firehose.relay_args(
        endpoint=firehose.url.replace("127.0.0.1", "localhost")))
    stderr_path = tmp_path / "relay.stderr"
    with open(stderr_path, "wb") as err:
        tracer = subprocess.Popen(
            ["strace", "-f", "-qq", "-o", str(trace), R.binary(), *args],
            env=R.relay_env(firehose.relay_env(tmp_path / "home")), stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=err)
    try:
        deadline = time.monotonic() + 60
        while not re.search(r"\bready\b", stderr_path.read_text(errors="replace")):
            assert tracer.poll() is None, stderr_path.read_text(errors="replace")
            assert time.monotonic() < deadline, stderr_path.read_text(errors="replace")
            time.sleep(0.05)
        # The relay is strace's child: signals go to it, not to strace.
        relay_pid = int(Path(f"/proc/{tracer.pid}/task/{tracer.pid}/children").read_text()
                        .split()[0])
        for flag, port in (("-d", udp), ("-T", tcp)):
            run("logger", flag, "-n", "127.0.0.1", "-P", str(port), "--rfc5424", "-t",
                "syscalls", f"syscall check {flag}")
        firehose.wait_count(2)
        os.kill(relay_pid, signal.SIGHUP)
        os.kill(relay_pid, signal.SIGUSR1)
        os.kill(relay_pid, signal.SIGTERM)
        assert tracer.wait(R.STOP_TIMEOUT) == 0, stderr_path.read_text(errors="replace")
    finally:
        if tracer.poll() is None:
            tracer.kill()
            tracer.wait()
    stderr = stderr_path.read_text(errors="replace")
    assert "SIGHUP received" in stderr and "final counters:" in stderr, stderr

    text = trace.read_text()
    used = set(re.findall(r"^\d+ +([a-z0-9_]+)\(", text, re.M))
    assert {"recvmmsg", "fdatasync", "renameat", "connect"} <= used, " ".join(sorted(used))
    refused = used - allowed_syscalls(UNIT)
    assert refused == set(), f"calls the unit's SystemCallFilter refuses: {sorted(refused)}"
    print(f"\n{len(used)} distinct system calls, all allowed; netlink sockets opened: "
          f"{'socket(AF_NETLINK' in text}")
