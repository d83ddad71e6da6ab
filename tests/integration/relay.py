"""Helpers for the kinesyslog integration tests.

Starting and stopping the relay, picking free ports, sending bytes, and decoding what the relay
delivered to its output directory (docs/design.md "Records" and "Spool and delivery").
Standard library only.
"""

import calendar
import datetime
import decimal
import json
import os
import re
import signal
import socket
import struct
import subprocess
import time
import zlib
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
READY_TIMEOUT = 20.0
WAIT_TIMEOUT = 30.0
STOP_TIMEOUT = 60.0

UUID4_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
# Firehose-style S3 key: YYYY/MM/DD/HH/<stream>-1-YYYY-MM-DD-HH-MM-SS-<uuid>.
OBJECT_RE = re.compile(
    r"^(?P<y>\d{4})/(?P<m>\d{2})/(?P<d>\d{2})/(?P<h>\d{2})/(?P<stream>.+)-1-"
    r"(?P<y2>\d{4})-(?P<m2>\d{2})-(?P<d2>\d{2})-(?P<h2>\d{2})-(?P<mi>\d{2})-(?P<s>\d{2})-"
    r"(?P<uuid>[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$"
)
RECORD_KEYS = {"owner", "logGroup", "logStream", "subscriptionFilters", "messageType", "logEvents"}
# The rewrite of a message without a usable timestamp (docs/design.md "Events").
REWRITE_RE = re.compile(
    r"^<(?P<pri>\d{1,3})>1 (?P<ts>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}\+00:00) "
    r"(?P<source>\S+) (?P<rest>.*)$",
    re.S,
)


def binary():
    return os.environ.get("KINESYSLOG_BIN") or str(REPO / "build" / "release" / "kinesyslog")


def relay_env(extra=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("KINESYSLOG_")}
    env["AWS_EC2_METADATA_DISABLED"] = "true"
    if extra:
        env.update(extra)
    return env


# ---------------------------------------------------------------------------------------------
# Ports

_handed_out = set()


def free_port(tcp=True, udp=True):
    """A port free on 127.0.0.1 for every requested protocol, never handed out twice."""
    for _ in range(200):
        first = socket.socket(socket.AF_INET, socket.SOCK_STREAM if tcp else socket.SOCK_DGRAM)
        held = [first]
        try:
            first.bind(("127.0.0.1", 0))
            port = first.getsockname()[1]
            if port in _handed_out:
                continue
            if tcp and udp:
                other = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                held.append(other)
                try:
                    other.bind(("127.0.0.1", port))
                except OSError:
                    continue
            _handed_out.add(port)
            return port
        finally:
            for s in held:
                s.close()
    raise RuntimeError("no free port found")


# ---------------------------------------------------------------------------------------------
# The relay process


def listen_args(out=None, spool=None, udp=(), tcp=(), flush_interval="0.2", extra=(), tls=(),
                gelf=False):
    args = ["listen", "--address", "127.0.0.1"]
    if gelf:
        args.append("--gelf")
    if out is not None:
        args += ["--output-dir", str(out)]
    if spool is not None:
        args += ["--spool-dir", str(spool)]
    for p in udp:
        args += ["--udp-port", str(p)]
    for p in tcp:
        args += ["--tcp-port", str(p)]
    for p in tls:
        args += ["--tls-port", str(p)]
    if flush_interval is not None:
        args += ["--flush-interval", str(flush_interval)]
    return args + list(extra)


def as_user_prefix(user):
    if user is None:
        return []
    group = "nogroup" if user == "nobody" else user
    return ["setpriv", f"--reuid={user}", f"--regid={group}", "--clear-groups"]


def run_relay(args, env=None, user=None, timeout=READY_TIMEOUT):
    """Run the relay to completion (for commands expected to exit by themselves)."""
    return subprocess.run(
        as_user_prefix(user) + [binary()] + list(args),
        env=relay_env(env),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=timeout,
    )


class Relay:
    """One relay process; stderr goes to a file so a chatty relay never blocks on a pipe."""

    def __init__(self, args, log_dir, env=None, user=None, nofile=None):
        self.args = list(args)
        log_dir = Path(log_dir)
        log_dir.mkdir(parents=True, exist_ok=True)
        n = 0
        while (log_dir / f"relay-{n}.stderr").exists():
            n += 1
        self.stderr_path = log_dir / f"relay-{n}.stderr"
        self.stdout_path = log_dir / f"relay-{n}.stdout"

        def limit_files():
            # `nofile`: the soft limit (the relay raises it to the hard one at start), or a
            # (soft, hard) pair that holds the relay to it.
            if nofile is not None:
                import resource

                soft, hard = nofile if isinstance(nofile, tuple) else (
                    nofile, resource.getrlimit(resource.RLIMIT_NOFILE)[1])
                resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))

        with open(self.stderr_path, "wb") as err, open(self.stdout_path, "wb") as out:
            self.proc = subprocess.Popen(
                as_user_prefix(user) + [binary()] + self.args,
                env=relay_env(env),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                preexec_fn=limit_files if nofile is not None else None,
            )
        self.returncode = None

    @property
    def stderr(self):
        return self.stderr_path.read_text(errors="replace")

    @property
    def stdout(self):
        return self.stdout_path.read_text(errors="replace")

    def running(self):
        return self.proc.poll() is None

    def wait_ready(self, timeout=READY_TIMEOUT):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if re.search(r"\bready\b", self.stderr):
                return
            if self.proc.poll() is not None:
                raise AssertionError(
                    f"relay exited with {self.proc.returncode} before ready; stderr:\n{self.stderr}"
                )
            time.sleep(0.02)
        raise AssertionError(f"relay not ready after {timeout} s; stderr:\n{self.stderr}")

    def send_signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, sig=signal.SIGTERM, timeout=STOP_TIMEOUT):
        """Signal the relay and wait for its exit; returns the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.wait(timeout)

    def wait(self, timeout=STOP_TIMEOUT):
        try:
            self.returncode = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"relay did not exit within {timeout} s; stderr:\n{self.stderr}")
        return self.returncode

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.returncode = self.proc.wait()

    def counters(self):
        return final_counters(self.stderr)

    def counters_now(self, timeout=10):
        """SIGUSR1, then the values of the `counters:` line it logs (the relay keeps running)."""
        before = self.stderr.count("] counters: ")
        self.proc.send_signal(signal.SIGUSR1)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            # Whole lines only: the log may be read while a line is half written.
            lines = [l for l in self.stderr.splitlines(keepends=True)
                     if "] counters: " in l and l.endswith("\n")]
            if len(lines) > before:
                pairs = re.findall(r"([a-z0-9_]+)=(\d+)", lines[before].split("] counters: ")[1])
                return {k: int(v) for k, v in pairs}
            time.sleep(0.01)
        raise AssertionError(f"no counters line after SIGUSR1; stderr:\n{self.stderr[-3000:]}")

    def status_kib(self, field):
        return proc_status_kib(self.proc.pid, field)


def final_counters(stderr):
    """The `final counters: name=value ...` line logged at exit, as a dict of ints."""
    for line in reversed(stderr.splitlines()):
        at = line.find("final counters:")
        if at >= 0:
            pairs = re.findall(r"([A-Za-z0-9_.]+)=(-?\d+)", line[at:])
            return {k: int(v) for k, v in pairs}
    raise AssertionError(f"no 'final counters:' line in stderr:\n{stderr}")


def proc_status_kib(pid, field):
    """A `VmXXX:   N kB` line of /proc/<pid>/status (VmHWM: peak resident set), in KiB."""
    text = Path(f"/proc/{pid}/status").read_text()
    m = re.search(rf"^{field}:\s+(\d+) kB$", text, re.M)
    assert m, f"no {field} in /proc/{pid}/status"
    return int(m.group(1))


def problem_lines(stderr):
    """stderr lines that report a problem: not info/debug/warning logs, not a bare --help hint."""
    lines = []
    for line in stderr.splitlines():
        if not line.strip():
            continue
        if re.search(r"\[(trace|debug|info|warning|warn)\]", line):
            continue
        if re.match(r"(?i)^\s*[(]?(see|run|try)\b.*--help", line):
            continue  # a hint line of its own; a hint at the end of the problem line is fine
        lines.append(line)
    return lines


# ---------------------------------------------------------------------------------------------
# Senders


def tcp_connect(port, timeout=10.0, source=None):
    """A TCP connection to 127.0.0.1:port, from the loopback address `source` when given."""
    s = socket.create_connection(
        ("127.0.0.1", port), timeout=timeout, source_address=(source, 0) if source else None
    )
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def tcp_send(port, data, close=True):
    s = tcp_connect(port)
    s.sendall(data)
    if close:
        s.close()
        return None
    return s


def udp_send(port, datagrams, pace=0.0):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        for d in datagrams:
            s.sendto(d, ("127.0.0.1", port))
            if pace:
                time.sleep(pace)
    finally:
        s.close()


def octet(msg):
    """RFC 6587 section 3.4.1 octet-counting frame."""
    return str(len(msg)).encode() + b" " + msg


def closed_by_peer(sock, timeout=WAIT_TIMEOUT):
    """True once the other end has closed `sock` (EOF or reset); False if it is still open after
    `timeout` seconds. Bytes the peer sends meanwhile are read and ignored."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            if sock.recv(4096) == b"":
                return True
        except (ConnectionResetError, BrokenPipeError):
            return True
        except socket.timeout:
            return False
    return False


# ---------------------------------------------------------------------------------------------
# PROXY protocol headers (haproxy's proxy-protocol.txt; section numbers are its own)

PROXY_V2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"


def _crc32c_table():
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_CRC32C = _crc32c_table()


def crc32c(data):
    """CRC32C (Castagnoli), RFC 4960 Appendix B; PP2_TYPE_CRC32C's checksum (section 2.2.3)."""
    c = 0xFFFFFFFF
    for b in data:
        c = _CRC32C[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


assert crc32c(b"123456789") == 0xE3069283


def proxy_v1(proto, src="", dst="", sport=0, dport=0):
    """A v1 line (section 2.1): `PROXY TCP4|TCP6 src dst sport dport` or `PROXY UNKNOWN ...`."""
    if proto == "UNKNOWN" and not src:
        return b"PROXY UNKNOWN\r\n"
    return f"PROXY {proto} {src} {dst} {sport} {dport}\r\n".encode()


def proxy_tlv(kind, value):
    """One v2 TLV (section 2.2): type, 2-byte big-endian length, value."""
    return bytes([kind]) + len(value).to_bytes(2, "big") + value


def proxy_aws_vpce_tlv(endpoint_id):
    """AWS's TLV 0xEA with subtype 0x01: the VPC endpoint id."""
    return proxy_tlv(0xEA, b"\x01" + endpoint_id.encode())


def proxy_v2(src=None, dst=None, sport=0, dport=0, local=False, family=None, block=b"",
             tlvs=b"", crc=False):
    """A v2 header (section 2.2). With `src` and `dst`: TCP over IPv4 or IPv6 by the address
    (family 0x11 or 0x21); otherwise the `family` byte and address `block` as given. `local`
    sends the LOCAL command. `crc` appends a PP2_TYPE_CRC32C TLV holding the right checksum."""
    if src is not None:
        af = socket.AF_INET6 if ":" in src else socket.AF_INET
        family = 0x21 if af == socket.AF_INET6 else 0x11
        block = (socket.inet_pton(af, src) + socket.inet_pton(af, dst) +
                 sport.to_bytes(2, "big") + dport.to_bytes(2, "big"))
    body = block + tlvs + (proxy_tlv(0x03, bytes(4)) if crc else b"")
    header = (PROXY_V2_SIGNATURE + bytes([0x20 if local else 0x21, family or 0]) +
              len(body).to_bytes(2, "big") + body)
    if crc:
        header = header[:-4] + crc32c(header).to_bytes(4, "big")
    return header


# ---------------------------------------------------------------------------------------------
# haproxy, a real PROXY protocol sender

HAPROXY = "/usr/sbin/haproxy"


def tcp_listening(port, address="127.0.0.1"):
    """True when a socket listens on address:port (read from /proc/net/tcp, so that checking
    does not open a connection)."""
    want = f"{socket.htonl(int.from_bytes(socket.inet_aton(address), 'big')):08X}:{port:04X}"
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            fields = line.split()
            if fields[1] == want and fields[3] == "0A":
                return True
    return False


class Haproxy:
    """haproxy in TCP mode on 127.0.0.1:`port`, forwarding every connection to the relay's
    127.0.0.1:`server_port` with `send_proxy` (`send-proxy` for v1, `send-proxy-v2`), its own
    connections to the relay coming from `source`. `server_ports` instead spreads connections
    round robin over several relays (a failed connect is retried on another one). `check`
    (e.g. "check inter 200ms") adds haproxy's health checks, which carry a PROXY header too
    (v2: the LOCAL command, as an AWS NLB's TCP health checks do)."""

    def __init__(self, log_dir, port, server_port=None, send_proxy="send-proxy",
                 source="127.0.0.9", server_ports=None, check="", maxconn=200):
        log_dir = Path(log_dir)
        log_dir.mkdir(parents=True, exist_ok=True)
        self.port = port
        n = 0
        while (log_dir / f"haproxy-{n}.cfg").exists():
            n += 1
        self.config_path = log_dir / f"haproxy-{n}.cfg"
        self.log_path = log_dir / f"haproxy-{n}.log"
        ports = list(server_ports) if server_ports is not None else [server_port]
        servers = "".join(
            f"    server relay{i} 127.0.0.1:{p} {send_proxy} source {source} {check}\n"
            for i, p in enumerate(ports)
        )
        self.config_path.write_text(
            "global\n"
            "    nbthread 1\n"
            f"    maxconn {maxconn}\n"
            "defaults\n"
            "    mode tcp\n"
            "    timeout connect 5s\n"
            "    timeout client 60s\n"
            "    timeout server 60s\n"
            "    retries 3\n"
            "    option redispatch\n"
            "frontend syslog\n"
            f"    bind 127.0.0.1:{port}\n"
            f"    maxconn {maxconn}\n"
            "    default_backend relay\n"
            "backend relay\n"
            "    balance roundrobin\n"
            + servers
        )
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [HAPROXY, "-db", "-f", str(self.config_path)],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + READY_TIMEOUT
        while not tcp_listening(port):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise AssertionError(f"haproxy did not start:\n{self.log_path.read_text()}")
            time.sleep(0.02)

    @property
    def log(self):
        return self.log_path.read_text(errors="replace")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


# ---------------------------------------------------------------------------------------------
# TLS (RFC 5425): certificates made with the openssl CLI, real clients


class Pki:
    """A private CA in `directory` made with the `openssl` CLI: certificates it signs and a CRL
    of the ones it revoked (`openssl ca`). Every path returned is a PEM file."""

    def __init__(self, directory, name="Test CA"):
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.name = name
        self.ca_key = self.dir / "ca.key"
        self.ca = self.dir / "ca.pem"
        self._serial = 0x100
        self._openssl(
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", self.ca_key, "-out", self.ca, "-days", "2", "-subj", f"/CN={name}",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        )
        (self.dir / "index.txt").write_text("")
        (self.dir / "crlnumber").write_text("01\n")
        self.ca_config = self.dir / "ca.cnf"
        self.ca_config.write_text(
            "[ca]\ndefault_ca = local\n[local]\n"
            f"database = {self.dir}/index.txt\ncrlnumber = {self.dir}/crlnumber\n"
            f"certificate = {self.ca}\nprivate_key = {self.ca_key}\n"
            "default_md = sha256\ndefault_crl_days = 2\n"
        )

    def _openssl(self, *args):
        p = subprocess.run(["openssl", *map(str, args)], capture_output=True, timeout=60)
        assert p.returncode == 0, f"openssl {args[0]} failed: {p.stderr.decode(errors='replace')}"
        return p

    def issue(self, name, dns=(), ip=(), cn=None, serial=None, client=True, key_pass=None):
        """A certificate and key signed by this CA; returns (cert_path, key_path, serial)."""
        if serial is None:
            self._serial += 1
            serial = self._serial
        key, csr = self.dir / f"{name}.key", self.dir / f"{name}.csr"
        cert, ext = self.dir / f"{name}.pem", self.dir / f"{name}.ext"
        self._openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
                      "-out", key)
        self._openssl("req", "-new", "-key", key, "-out", csr, "-subj", f"/CN={cn or name}")
        sans = [f"DNS:{d}" for d in dns] + [f"IP:{a}" for a in ip]
        lines = ["basicConstraints=CA:FALSE",
                 "extendedKeyUsage=" + ("clientAuth" if client else "serverAuth")]
        if sans:
            lines.append("subjectAltName=" + ",".join(sans))
        ext.write_text("\n".join(lines) + "\n")
        self._openssl("x509", "-req", "-in", csr, "-CA", self.ca, "-CAkey", self.ca_key,
                      "-set_serial", str(serial), "-days", "2", "-extfile", ext, "-out", cert)
        if key_pass is not None:
            encrypted = self.dir / f"{name}.encrypted.key"
            self._openssl("pkey", "-in", key, "-out", encrypted, "-aes256",
                          "-passout", f"pass:{key_pass}")
            key = encrypted
        return cert, key, serial

    def server(self, name="server", serial=None):
        """A server certificate for localhost and 127.0.0.1."""
        return self.issue(name, dns=["localhost"], ip=["127.0.0.1"], cn="localhost",
                          serial=serial, client=False)

    def revoke(self, cert):
        self._openssl("ca", "-config", self.ca_config, "-revoke", cert)

    def crl(self, name="ca.crl"):
        path = self.dir / name
        self._openssl("ca", "-config", self.ca_config, "-gencrl", "-out", path)
        return path


def s_client_args(port, ca=None, cert=None, key=None, extra=()):
    """`openssl s_client` sending its stdin to the relay and leaving at its end (-no_ign_eof;
    -quiet alone would wait for the server to close)."""
    args = ["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-quiet", "-no_ign_eof"]
    if ca is not None:
        args += ["-CAfile", str(ca), "-verify_return_error"]
    if cert is not None:
        args += ["-cert", str(cert), "-key", str(key)]
    return args + list(extra)


def s_client(port, data, ca=None, cert=None, key=None, extra=(), timeout=30):
    """Sends `data` over one TLS connection made by `openssl s_client`."""
    return subprocess.run(
        s_client_args(port, ca, cert, key, extra), input=data, capture_output=True,
        timeout=timeout,
    )


def served_certificate(port, ca):
    """The certificate the relay serves to a new connection, as Python's ssl decodes it."""
    import ssl

    context = ssl.create_default_context(cafile=str(ca))
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with context.wrap_socket(raw, server_hostname="localhost") as tls:
            return tls.getpeercert()


def read_until_closed(sock, timeout=WAIT_TIMEOUT):
    """Reads until the peer closes (EOF or reset); returns what arrived, raises on timeout."""
    sock.settimeout(timeout)
    got = b""
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return got
            got += chunk
    except ConnectionResetError:
        return got


def udp_socket(source="127.0.0.1"):
    """A UDP socket bound to `source` (any 127.0.0.0/8 address is loopback on Linux), so one test
    can play several senders."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((source, 0))
    return s


# ---------------------------------------------------------------------------------------------
# GELF (GELF 1.1 payload specification and "GELF via UDP" chunking)

GELF_MAGIC = b"\x1e\x0f"


_NOW = object()


def gelf_json(short_message, host="test-host", timestamp=_NOW, **fields):
    """A GELF 1.1 message as compact JSON bytes: `timestamp` is now unless given (None: no
    timestamp field); extra fields go in as given (`_name` keys)."""
    doc = {"version": "1.1", "host": host, "short_message": short_message}
    if timestamp is _NOW:
        timestamp = round(time.time(), 6)
    if timestamp is not None:
        doc["timestamp"] = timestamp
    doc.update(fields)
    return json.dumps(doc, separators=(",", ":")).encode()


def gelf_chunk(msg_id, seq, count, piece):
    """One chunk: magic, 8-byte message id, sequence number, sequence count, piece."""
    return GELF_MAGIC + struct.pack(">Q", msg_id) + bytes([seq, count]) + piece


def gelf_chunks(payload, size, msg_id):
    """`payload` cut into chunks of `size` bytes (the count is not checked: tests send bad ones)."""
    pieces = [payload[i:i + size] for i in range(0, len(payload), size)] or [b""]
    return [gelf_chunk(msg_id, i, len(pieces), p) for i, p in enumerate(pieces)]


def gelf_chunks_exactly(payload, count, msg_id):
    """`payload` cut into exactly `count` chunks (sequence count `count`, even if over 128)."""
    cuts = [i * len(payload) // count for i in range(count + 1)]
    return [gelf_chunk(msg_id, i, count, payload[cuts[i]:cuts[i + 1]]) for i in range(count)]


def gelf_timestamp_ms(value):
    """The event timestamp the relay must produce for a GELF `timestamp` (a JSON number as text,
    or a float as Python writes it): seconds to milliseconds, half up on the decimal digits."""
    seconds = decimal.Decimal(value if isinstance(value, str) else repr(value))
    return int((seconds * 1000).quantize(decimal.Decimal(1), rounding=decimal.ROUND_HALF_UP))


def raw_gelf_timestamp(message):
    """The `timestamp` value of a GELF JSON text exactly as written (number text)."""
    m = re.search(r'"timestamp"\s*:\s*(-?[0-9][0-9.eE+-]*)', message)
    assert m, f"no numeric timestamp in {message[:200]!r}"
    return m.group(1)


# ---------------------------------------------------------------------------------------------
# Output directory


def decode_members(data):
    """Each gzip member separately (Firehose concatenates records, RFC 1952 section 2.2)."""
    members = []
    while data:
        d = zlib.decompressobj(wbits=31)
        members.append(d.decompress(data) + d.flush())
        if not d.eof:
            raise AssertionError("truncated gzip member")
        data = d.unused_data
    return members


def check_record(rec):
    assert set(rec) == RECORD_KEYS, f"record keys {sorted(rec)}"
    assert rec["messageType"] == "DATA_MESSAGE"
    assert isinstance(rec["owner"], str) and isinstance(rec["logGroup"], str)
    assert rec["subscriptionFilters"] == [rec["logGroup"]]
    assert isinstance(rec["logStream"], str)
    assert isinstance(rec["logEvents"], list) and rec["logEvents"], "record without events"
    for ev in rec["logEvents"]:
        assert set(ev) == {"id", "timestamp", "message"}, f"event keys {sorted(ev)}"
        assert UUID4_RE.match(ev["id"]), f"id {ev['id']!r} is not a v4 uuid"
        assert isinstance(ev["timestamp"], int), f"timestamp {ev['timestamp']!r}"
        assert isinstance(ev["message"], str)


def parse_member(raw):
    # Strict: valid UTF-8 and no raw control characters inside strings.
    text = raw.decode("utf-8")
    rec = json.loads(text)
    check_record(rec)
    return rec


class Output:
    """Reads an output directory; objects never change once visible, so decode each once."""

    def __init__(self, out_dir, stream="kinesyslog"):
        self.out_dir = Path(out_dir)
        self.stream = stream
        self._cache = {}

    def objects(self):
        found = []
        for root, dirnames, files in os.walk(self.out_dir):
            dirnames[:] = [d for d in dirnames if not d.startswith(".")]
            for f in files:
                if f.startswith("."):
                    continue  # a temporary name, not yet delivered
                rel = os.path.relpath(os.path.join(root, f), self.out_dir)
                found.append(rel)
        for rel in found:
            m = OBJECT_RE.match(rel)
            assert m, f"unexpected visible file in output dir: {rel}"
            assert m["stream"] == self.stream, f"object {rel} not named for {self.stream}"
            assert (m["y"], m["m"], m["d"], m["h"]) == (m["y2"], m["m2"], m["d2"], m["h2"]), rel
            # The key's time is UTC at delivery: it must be a real, recent time.
            when = datetime.datetime(
                int(m["y"]), int(m["m"]), int(m["d"]), int(m["h"]), int(m["mi"]), int(m["s"]),
                tzinfo=datetime.timezone.utc,
            )
            age = time.time() - when.timestamp()
            assert -5 < age < 3600, f"object {rel} time is {age:.0f} s from now"
        return sorted(found)

    def records(self):
        recs = []
        for rel in self.objects():
            if rel not in self._cache:
                data = (self.out_dir / rel).read_bytes()
                self._cache[rel] = [parse_member(m) for m in decode_members(data)]
            recs.extend(self._cache[rel])
        return recs

    def events(self):
        """Flattened events: dicts with the event's fields plus owner, group, stream."""
        evs = []
        for rec in self.records():
            for ev in rec["logEvents"]:
                evs.append(
                    dict(ev, owner=rec["owner"], group=rec["logGroup"], stream=rec["logStream"])
                )
        return evs

    def wait_events(self, done, timeout=WAIT_TIMEOUT, what="events"):
        """Poll until done(events) is true; returns the events."""
        deadline = time.monotonic() + timeout
        while True:
            evs = self.events()
            if done(evs):
                return evs
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"timed out after {timeout} s waiting for {what}; have {len(evs)} events: "
                    f"{[e['message'][:120] for e in evs[:20]]}"
                )
            time.sleep(0.05)

    def wait_count(self, n, match=lambda e: True, timeout=WAIT_TIMEOUT):
        return self.wait_events(
            lambda evs: sum(1 for e in evs if match(e)) >= n, timeout, what=f"{n} events"
        )


def tagged_values(events, pattern, convert=str):
    """The value each event's message carries in `pattern`'s first group, in event order.

    Tests tag each message they send (seq=000042, id=...) to count losses and duplicates."""
    out = []
    for e in events:
        m = pattern.search(e["message"])
        assert m, e["message"][:200]
        out.append(convert(m.group(1)))
    return out


def spool_records(spool_dir):
    """Records in finished spool files (kinesyslog-*.gz); files may vanish while we read."""
    recs = []
    for p in sorted(Path(spool_dir).glob("kinesyslog-*.gz")):
        try:
            data = p.read_bytes()
        except FileNotFoundError:
            continue
        recs.extend(parse_member(m) for m in decode_members(data))
    return recs


# ---------------------------------------------------------------------------------------------
# Time


def half_up_ms(total_us):
    return (total_us + 500) // 1000


RFC3339_RE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$"
)


def rfc3339_us(ts):
    """Exact microseconds since the epoch of an RFC 3339 timestamp (fraction cut to 6 digits)."""
    m = RFC3339_RE.match(ts)
    assert m, f"not an RFC 3339 timestamp: {ts!r}"
    y, mo, d, h, mi, s = (int(x) for x in m.groups()[:6])
    frac = (m.group(7) or "").ljust(9, "0")
    ns = int(frac)
    secs = calendar.timegm((y, mo, d, h, mi, s, 0, 0, 0))
    zone = m.group(8)
    if zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        secs -= sign * (int(zone[1:3]) * 3600 + int(zone[4:6]) * 60)
    return secs * 1_000_000, ns


def rfc3339_ms(ts):
    """Event timestamp the relay must produce: milliseconds, rounded half up."""
    us_secs, ns = rfc3339_us(ts)
    # Half up on the full fraction as sent (".0005" rounds up, ".0004999" down).
    return (us_secs * 1000 + ns + 500_000) // 1_000_000


MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def rfc3164_ms(stamp, now=None, tz=datetime.timezone.utc):
    """`Mmm dd hh:mm:ss` with the year inferred as docs/design.md "Events" says: the latest of the
    receive year + 1, the receive year and the receive year - 1 in which the date exists and is
    at most 2 days after the receive time; None when there is none, or it is before 1970."""
    now = time.time() if now is None else now
    mon, day, clock = stamp.split()
    h, mi, s = (int(x) for x in clock.split(":"))
    year = datetime.datetime.fromtimestamp(now, tz).year
    for y in (year + 1, year, year - 1):
        try:
            cand = datetime.datetime(y, MONTHS.index(mon) + 1, int(day), h, mi, s, tzinfo=tz)
        except ValueError:
            continue  # Feb 29 outside a leap year
        if cand.timestamp() <= now + 2 * 86400:
            return int(cand.timestamp()) * 1000 if cand.timestamp() >= 0 else None
    return None


def rfc3164_stamp(dt):
    """Format a datetime as RFC 3164 section 4.1.2 does (day space-padded)."""
    return f"{MONTHS[dt.month - 1]} {dt.day:2d} {dt:%H:%M:%S}"
