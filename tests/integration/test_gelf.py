"""GELF input (docs/design.md "Inputs" and "Events"): `--gelf` makes every listener take
GELF 1.1. A real client (Debian's python3-graypy, through Python logging) over UDP with zlib and
chunking, over TCP, over TLS and behind haproxy's PROXY protocol; hand-made datagrams for chunk reassembly (out of order, duplicates,
missing and late chunks, more than 128 chunks), zlib and gzip, decompression bombs, invalid JSON,
missing fields and oversize messages; floods of first chunks that must stay within the chunk
assembler's caps while a well-behaved sender's messages still arrive; --group-prefix; chunks of
one sender address sent from many source ports, with several workers (docs/operations.md, "Chunks of
one sender address, one worker").

Every delivered GELF message is checked byte for byte against what the client sent, and its
event timestamp against the client's `timestamp` field rounded half up to the millisecond.

Caps (docs/operations.md, "GELF"), per UDP socket and worker, for --max-message-size M: a chunk
set holds at most M + 1 KiB; one sender's incomplete sets at most 8 x (M + 1 KiB) and 64 sets;
all senders' at most 32 x (M + 1 KiB) and 1024 sets. For the default M = 64 KiB that is about
2.03 MiB per socket and worker, however many first chunks arrive."""

import gzip
import json
import logging
import random
import socket
import string
import subprocess
import time
import zlib

import graypy
import pytest

import relay as R

MIB = 1 << 20
MAX = 65536
SET_CAP = MAX + 1024
TOTAL_CAP = 32 * SET_CAP  # one socket of one worker
CHUNK_TIMEOUT = 5.0


def start_gelf(relays, udp=True, tcp=True, extra=(), workers=2):
    return relays.start(
        udp=[R.free_port()] if udp else [],
        tcp=[R.free_port()] if tcp else [],
        extra=["--workers", str(workers), *extra],
        gelf=True,
    )


def random_text(rng, n):
    return "".join(rng.choice(string.ascii_letters + string.digits + " ") for _ in range(n))


class Recording:
    """Mixin for graypy handlers: keeps the exact JSON text of every message sent."""

    def makePickle(self, record):
        data = super().makePickle(record)
        if self.compress:
            self.sent.append(zlib.decompress(data))
        else:
            self.sent.append(data.rstrip(b"\0"))  # the TCP handler's NUL terminator
        return data


class RecordingUDPHandler(Recording, graypy.GELFUDPHandler):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.sent = []
        self.chunks_sent = 0

    def send(self, s):
        size = self.gelf_chunker.chunk_size
        if len(s) >= size:  # graypy's rule: chunked from the chunk size on
            self.chunks_sent += -(-len(s) // size)
        super().send(s)


class RecordingTCPHandler(Recording, graypy.GELFTCPHandler):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.sent = []


def gelf_logger(name, handler):
    log = logging.getLogger(name)
    log.handlers[:] = [handler]
    log.setLevel(logging.DEBUG)
    log.propagate = False
    return log


def check_delivered(output, sent, group="gelf_message", stream="127.0.0.1", extra=None):
    """Every message of `sent` (JSON bytes) delivered exactly once, byte for byte, in `group`
    and `stream`, with the event time from its `timestamp` field."""
    texts = [s.decode() for s in sent]
    evs = output.wait_events(
        lambda evs: all(any(e["message"] == t for e in evs) for t in texts),
        what=f"{len(texts)} GELF messages",
    )
    for text in texts:
        matching = [e for e in evs if e["message"] == text]
        assert len(matching) == 1, f"{len(matching)} copies of {text[:120]!r}"
        e = matching[0]
        assert e["group"] == group and e["stream"] == stream, (e["group"], e["stream"])
        assert e["timestamp"] == R.gelf_timestamp_ms(R.raw_gelf_timestamp(text)), text[:200]
        doc = json.loads(e["message"])
        assert {"version", "host", "short_message", "timestamp"} <= set(doc)
        if extra:
            extra(doc)
    return evs


# ---------------------------------------------------------------------------------------------
# A real client: graypy through Python logging


def test_graypy_udp_chunked_zlib(relays, output):
    r = start_gelf(relays, tcp=False)
    # A small chunk size, so that nearly every message is really chunked (graypy sends a
    # message whole only when it is under the chunk size; it compresses with zlib).
    handler = RecordingUDPHandler(
        "127.0.0.1", r.udp[0], gelf_chunker=graypy.handler.GELFWarningChunker(chunk_size=64))
    log = gelf_logger("gelf.udp", handler)
    rng = random.Random(61)
    for i in range(60):
        log.info("udp %d %s", i, random_text(rng, rng.randint(10, 5000)), extra={"seq": i})
        time.sleep(0.002)  # a steady sender; UDP itself is not under test here
    log.warning("short one")  # compressed under 64 bytes? then sent unchunked, also fine
    handler.close()

    def fields(doc):
        assert doc["host"] and doc["level"] in (4, 6)
        assert doc["short_message"].startswith(("udp ", "short one"))
        if doc["short_message"].startswith("udp "):
            assert doc["_seq"] == int(doc["short_message"].split()[1])

    check_delivered(output, handler.sent, extra=fields)
    assert r.stop() == 0
    c = r.counters()
    assert c["gelf_chunked_messages"] >= 60
    assert c["gelf_chunks"] > 60 * 5, "messages were chunked"
    for name in ("gelf_chunks_invalid", "gelf_chunk_sets_expired", "gelf_chunk_sets_evicted",
                 "gelf_decompress_failed", "gelf_invalid_json", "gelf_oversize_dropped"):
        assert c[name] == 0, name
    assert c["gelf_missing_fields"] == 0  # graypy sends version, host and short_message


def test_graypy_tcp(relays, output):
    r = start_gelf(relays, udp=False)
    handler = RecordingTCPHandler("127.0.0.1", r.tcp[0])
    log = gelf_logger("gelf.tcp", handler)
    rng = random.Random(62)
    for i in range(200):
        log.error("tcp %d %s", i, random_text(rng, rng.randint(0, 3000)))
    try:
        raise ValueError("boom")
    except ValueError:
        log.exception("with a backtrace")  # full_message with newlines, escaped in the JSON
    handler.close()
    evs = check_delivered(output, handler.sent)
    backtrace = [json.loads(e["message"]) for e in evs if "backtrace" in e["message"]]
    assert "ValueError: boom" in backtrace[0]["full_message"]
    assert r.stop() == 0
    c = r.counters()
    assert c["messages_received"] == 201
    assert c["gelf_invalid_json"] == 0 and c["frames_incomplete"] == 0


class RecordingTLSHandler(Recording, graypy.GELFTLSHandler):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.sent = []


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # graypy's ssl.wrap_socket()
def test_graypy_tls(relays, output, pki):
    port = R.free_port()
    r = relays.start(tls=[port], gelf=True,
                     extra=["--cert", str(pki.server_cert), "--key", str(pki.server_key)])
    # graypy checks the relay's certificate against the test CA (it does not check the name).
    handler = RecordingTLSHandler("127.0.0.1", port, validate=True, ca_certs=str(pki.ca))
    log = gelf_logger("gelf.tls", handler)
    rng = random.Random(66)
    for i in range(100):
        log.warning("tls %d %s", i, random_text(rng, rng.randint(0, 3000)))
    handler.close()
    check_delivered(output, handler.sent)
    assert r.stop() == 0
    c = r.counters()
    assert c["tls_handshakes"] == 1
    assert c["messages_received"] == 100 and c["gelf_invalid_json"] == 0


@pytest.mark.parametrize("send_proxy", ["send-proxy", "send-proxy-v2"])
def test_graypy_tcp_behind_haproxy(relays, output, dirs, send_proxy):
    port = R.free_port()
    r = relays.start(tcp=[port], gelf=True, extra=["--proxy-protocol", str(port)])
    # haproxy's own connection comes from 127.0.0.9; graypy's address (127.0.0.1) reaches the
    # relay only in the PROXY header, and must be the records' logStream.
    proxy = R.Haproxy(dirs.logs, port=R.free_port(), server_port=port, send_proxy=send_proxy)
    try:
        handler = RecordingTCPHandler("127.0.0.1", proxy.port)
        log = gelf_logger("gelf.proxy", handler)
        for i in range(20):
            log.info("behind %s %d", send_proxy, i)
        handler.close()
        check_delivered(output, handler.sent, stream="127.0.0.1")
    finally:
        proxy.stop()
    assert r.stop() == 0
    assert r.counters()["proxy_headers_accepted"] >= 1


# ---------------------------------------------------------------------------------------------
# Hand-made chunks


def test_chunks_out_of_order_and_duplicated(relays, output):
    r = start_gelf(relays, tcp=False)
    rng = random.Random(63)
    sent = []
    datagrams = []
    for i in range(20):
        body = R.gelf_json(f"shuffled {i} " + random_text(rng, 3000), timestamp=1700000000.0005 + i)
        chunks = R.gelf_chunks(body, 100 + i, msg_id=rng.getrandbits(64))
        rng.shuffle(chunks)
        last = chunks.pop()  # the chunk that completes the set
        for dup in rng.sample(chunks, 5):  # duplicates, anywhere before it
            chunks.insert(rng.randrange(len(chunks) + 1), dup)
        sent.append(body)
        datagrams += chunks + [last]
        if i == 0:
            late_duplicate = last
    # A duplicate after its set completed starts a new set, which expires: nothing twice.
    R.udp_send(r.udp[0], datagrams + [late_duplicate])
    evs = check_delivered(output, sent)
    assert sorted(e["timestamp"] for e in evs) == [1700000000001 + i * 1000 for i in range(20)]
    assert r.stop() == 0
    c = r.counters()
    assert c["gelf_chunked_messages"] == 20
    assert c["gelf_chunks_duplicate"] == 100
    assert c["gelf_chunk_sets_expired"] == 1  # the late duplicate's set, at shutdown
    assert c["messages_received"] == 20


def test_missing_chunk_expires_and_a_late_chunk_delivers_nothing(relays, output):
    r = start_gelf(relays, tcp=False, workers=1)
    body = R.gelf_json("never complete " + "x" * 400)
    chunks = R.gelf_chunks(body, 100, msg_id=0x1122334455667788)
    assert len(chunks) == 5
    R.udp_send(r.udp[0], chunks[:2] + chunks[3:])  # chunk 2 is lost
    time.sleep(CHUNK_TIMEOUT + 1.0)  # past the 5 s deadline: the relay's timer drops the set
    assert "GELF chunk set expired" in r.stderr
    R.udp_send(r.udp[0], [chunks[2]])  # the late chunk starts a set of its own
    control = R.gelf_json("control message")
    R.udp_send(r.udp[0], [control])
    check_delivered(output, [control])
    assert r.stop() == 0
    c = r.counters()
    # One set dropped at its deadline, the late chunk's set at shutdown; nothing partial.
    assert c["gelf_chunk_sets_expired"] == 2
    assert c["gelf_chunked_messages"] == 0
    assert [e["message"] for e in output.events()] == [control.decode()]


def test_bad_chunk_headers_are_dropped_and_counted(relays, output):
    r = start_gelf(relays, tcp=False)
    body = R.gelf_json("one hundred and twenty-nine chunks " + "y" * 2000)
    too_many = R.gelf_chunks_exactly(body, 129, msg_id=1)  # over the spec's 128: each refused
    exactly = R.gelf_json("one hundred and twenty-eight chunks " + "z" * 1000)
    max_chunks = R.gelf_chunks_exactly(exactly, 128, msg_id=2)
    bad = [
        R.gelf_chunk(3, 0, 0, b"count 0"),
        R.gelf_chunk(4, 2, 2, b"sequence = count"),
        R.gelf_chunk(5, 200, 3, b"sequence > count"),
        R.GELF_MAGIC + b"short",  # under the 12-byte header
    ]
    inconsistent = [R.gelf_chunk(6, 0, 2, b'{"a":'), R.gelf_chunk(6, 1, 3, b"1}")]
    R.udp_send(r.udp[0], too_many + bad + inconsistent + max_chunks, pace=0.0002)
    check_delivered(output, [exactly])
    assert r.stop() == 0
    c = r.counters()
    assert c["gelf_chunks_invalid"] == 129 + 4 + 1
    assert c["gelf_chunked_messages"] == 1
    assert c["gelf_chunk_sets_expired"] == 1  # id 6, incomplete at shutdown
    assert c["messages_received"] == 1


# ---------------------------------------------------------------------------------------------
# Chunks of one sender address from many source ports (several sockets, or a NAT that changes
# ports): all of them must meet in one worker's assembler, whatever the number of workers.


def send_each_chunk_from_a_new_socket(chunks_by_sender, relay_port):
    """Sends the chunks of several messages interleaved (chunk 0 of every message, then chunk 1,
    ...), each chunk from a socket of its own bound to its sender's address: every chunk has a
    source port of its own. `chunks_by_sender` is a list of (sender address, chunks); returns
    the number of distinct (address, port) sources used."""
    sources = set()
    sockets = []  # kept open to the end, so that no source port is used twice
    try:
        for k in range(max(len(chunks) for _, chunks in chunks_by_sender)):
            for sender, chunks in chunks_by_sender:
                if k >= len(chunks):
                    continue
                ipv6 = ":" in sender
                s = socket.socket(socket.AF_INET6 if ipv6 else socket.AF_INET, socket.SOCK_DGRAM)
                sockets.append(s)
                s.bind((sender, 0))
                sources.add(s.getsockname()[:2])
                s.sendto(chunks[k], ("::1" if ipv6 else "127.0.0.1", relay_port))
    finally:
        for s in sockets:
            s.close()
    return len(sources)


# The relay's hash (lowbias32 of the IPv4 address; of the XOR of the four IPv6 words) puts
# 127.0.0.1, .3, .6 and .10 on workers 0, 0, 1, 1 of 2 and 0, 2, 3, 1 of 4; ::1 on worker 0: the
# senders spread over the workers, each sender's chunks must stay together.
def udp_sockets_on_port(port):
    """How many UDP sockets (IPv4 and IPv6) are bound to `port` on this machine."""
    count = 0
    for table in ("/proc/net/udp", "/proc/net/udp6"):
        for line in open(table).read().splitlines()[1:]:
            local = line.split()[1]
            count += int(local.rsplit(":", 1)[1], 16) == port
    return count


def run_chunks_from_many_source_ports(relays, output, workers, address, senders, env=None):
    """A relay with --gelf on `address`; 24 chunked messages (some zlib), their chunks
    interleaved and each chunk from its own source port, from `senders` in turn: each must
    arrive once, byte for byte, none expire. Returns the relay (stopped)."""
    port = R.free_port(tcp=False)
    args = R.listen_args(out=relays.dirs.out, spool=relays.dirs.spool, udp=[port], gelf=True,
                         extra=["--workers", str(workers)])
    args[args.index("--address") + 1] = address
    r = relays.start(udp=[port], args=args, env=env)
    r.sockets_on_port = udp_sockets_on_port(port)
    rng = random.Random(67 + workers)
    sent = {sender: [] for sender in senders}
    chunks_by_sender = []
    for i in range(24):
        sender = senders[i % len(senders)]
        body = R.gelf_json(f"ports {i} from {sender} " + random_text(rng, rng.randint(2000, 4000)),
                           timestamp=1700000000.25 + i)
        payload = zlib.compress(body) if i % 3 == 0 else body
        chunks = R.gelf_chunks(payload, 300 if i % 3 else 100, msg_id=rng.getrandbits(64))
        assert len(chunks) >= 6
        sent[sender].append(body)
        chunks_by_sender.append((sender, chunks))
    total_chunks = sum(len(chunks) for _, chunks in chunks_by_sender)
    assert send_each_chunk_from_a_new_socket(chunks_by_sender, port) == total_chunks
    for sender, bodies in sent.items():
        check_delivered(output, bodies, stream=sender)
    assert r.stop() == 0
    c = r.counters()
    assert c["gelf_chunks"] == total_chunks
    assert c["gelf_chunk_sets_expired"] == 0
    assert c["gelf_chunked_messages"] == 24 and c["messages_received"] == 24
    assert len(output.events()) == 24
    return r


@pytest.mark.parametrize("workers", [2, 4])
@pytest.mark.parametrize("address,senders", [
    ("127.0.0.1", ["127.0.0.1", "127.0.0.3", "127.0.0.6", "127.0.0.10"]),
    # A dual-stack socket: IPv6 senders and IPv4 ones (seen as IPv4-mapped addresses).
    ("::", ["::1", "127.0.0.6", "127.0.0.10"]),
], ids=["ipv4", "dual-stack"])
def test_chunks_from_many_source_ports_of_one_address_are_reassembled(
        relays, output, workers, address, senders):
    r = run_chunks_from_many_source_ports(relays, output, workers, address, senders)
    assert r.sockets_on_port == workers, "one socket per worker"
    assert "refused" not in r.stderr


# The kernel refusing SO_ATTACH_REUSEPORT_CBPF (before Linux 4.5, or a seccomp filter), played
# by an LD_PRELOAD library: one warning, and worker 0 alone reads the port, so chunks still meet.
REFUSING_SETSOCKOPT = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <sys/socket.h>
int setsockopt(int fd, int level, int name, const void* value, socklen_t length) {
  if (level == SOL_SOCKET && name == SO_ATTACH_REUSEPORT_CBPF) {
    errno = EPERM;
    return -1;
  }
  int (*real)(int, int, int, const void*, socklen_t) = dlsym(RTLD_NEXT, "setsockopt");
  return real(fd, level, name, value, length);
}
"""


def test_chunks_still_meet_when_the_kernel_refuses_the_program(relays, output, tmp_path):
    source = tmp_path / "refuse.c"
    source.write_text(REFUSING_SETSOCKOPT)
    library = tmp_path / "refuse.so"
    subprocess.run(["cc", "-shared", "-fPIC", "-o", str(library), str(source), "-ldl"],
                   check=True)
    r = run_chunks_from_many_source_ports(
        relays, output, 4, "127.0.0.1", ["127.0.0.1", "127.0.0.3", "127.0.0.6", "127.0.0.10"],
        env={"LD_PRELOAD": str(library)})
    assert r.sockets_on_port == 1, "worker 0 alone"
    warnings = [line for line in r.stderr.splitlines() if "SO_ATTACH_REUSEPORT_CBPF" in line]
    assert len(warnings) == 1 and "[warning]" in warnings[0], warnings
    assert "Operation not permitted" in warnings[0] and "worker 0 alone" in warnings[0]


# ---------------------------------------------------------------------------------------------
# Compression


def test_zlib_and_gzip_datagrams(relays, output):
    r = start_gelf(relays, tcp=False)
    rng = random.Random(64)
    plain = R.gelf_json("plain", timestamp="1700000000.123456")  # a numeric string
    z = R.gelf_json("zlib " + random_text(rng, 500), timestamp=1700000001.9995)
    g = R.gelf_json("gzip " + random_text(rng, 500), timestamp=1700000002)
    zc = R.gelf_json("zlib chunked " + random_text(rng, 6000), timestamp=1.7000000035e9)
    gc = R.gelf_json("gzip chunked " + random_text(rng, 6000), timestamp=None)
    datagrams = [plain, zlib.compress(z), gzip.compress(g)]
    datagrams += R.gelf_chunks(zlib.compress(zc), 500, msg_id=10)
    datagrams += R.gelf_chunks(gzip.compress(gc), 500, msg_id=11)
    R.udp_send(r.udp[0], datagrams)
    before = time.time()
    evs = output.wait_count(5)
    got = {json.loads(e["message"])["short_message"].split()[0] + (
        " chunked" if "chunked" in e["message"] else ""): e for e in evs}
    assert got["plain"]["message"] == plain.decode()
    assert got["plain"]["timestamp"] == 1700000000123
    assert got["zlib"]["message"] == z.decode() and got["zlib"]["timestamp"] == 1700000002000
    assert got["gzip"]["message"] == g.decode() and got["gzip"]["timestamp"] == 1700000002000
    assert got["zlib chunked"]["message"] == zc.decode()
    assert got["zlib chunked"]["timestamp"] == 1700000003500
    # No timestamp field: the receive time.
    assert got["gzip chunked"]["message"] == gc.decode()
    assert abs(got["gzip chunked"]["timestamp"] / 1000 - before) < 60
    assert r.stop() == 0
    c = r.counters()
    assert c["gelf_decompress_failed"] == 0 and c["gelf_invalid_json"] == 0


def test_corrupt_compression_is_dropped_and_counted(relays, output):
    r = start_gelf(relays, tcp=False)
    fine = R.gelf_json("fine")
    good = zlib.compress(fine)
    cut = zlib.compress(R.gelf_json("cut short " + "q" * 300))[:-10]
    bad_crc = bytearray(gzip.compress(R.gelf_json("bad crc")))
    bad_crc[-6] ^= 0xFF
    R.udp_send(r.udp[0], [cut, bytes(bad_crc), b"\x1f\x8b\x08 not gzip", good])
    check_delivered(output, [fine])
    assert r.stop() == 0
    assert r.counters()["gelf_decompress_failed"] == 3


@pytest.mark.measures_memory
def test_decompression_bombs_stop_at_the_cap(relays, output):
    r = start_gelf(relays, tcp=False)
    warm = R.gelf_json("warm up")
    R.udp_send(r.udp[0], [zlib.compress(warm), gzip.compress(warm)])
    output.wait_count(2)
    before_kib = r.status_kib("VmHWM")
    # 40 MiB of JSON-ish filler in about 40 KB: fits one datagram, inflates 640 times past the
    # 64 KiB cap. Chunked: 60 MiB in 60 chunks.
    filler = b'{"short_message":"' + b" " * (40 * MIB) + b'"}'
    zbomb = zlib.compress(filler, 9)
    gbomb = gzip.compress(filler, 9)
    assert len(zbomb) < 60000 and len(gbomb) < 60000
    cbomb = zlib.compress(b" " * (60 * MIB), 9)
    bombs = [zbomb, gbomb] + R.gelf_chunks(cbomb, 1000, msg_id=77)
    for _ in range(5):
        R.udp_send(r.udp[0], bombs)
    after = R.gelf_json("after the bombs")
    R.udp_send(r.udp[0], [zlib.compress(after)])
    check_delivered(output, [after])
    growth_kib = r.status_kib("VmHWM") - before_kib
    assert r.stop() == 0
    c = r.counters()
    assert c["gelf_oversize_dropped"] == 15
    assert c["messages_received"] == 3
    # Inflation writes into one buffer of --max-message-size per socket: the bombs cost at most
    # that (64 KiB) and the chunk set (61 KiB). A decoder that inflated them would need 40 MiB.
    print(f"\nVmHWM grew {growth_kib} KiB during 15 bombs of 40-60 MiB")
    assert growth_kib * 1024 < 8 * MIB


# ---------------------------------------------------------------------------------------------
# Content


def test_invalid_json_and_missing_fields_are_relayed_and_counted(relays, output):
    r = start_gelf(relays)
    invalid = [b"plain text, no JSON", b'{"version":"1.1","host":"h","short_message":"cut',
               b'{"a":1} trailing', "{\"host\":\"h\xe9\"}".encode("latin-1")]
    missing = [b'{"host":"h","short_message":"no version"}',
               b'{"version":"1.1","short_message":"no host"}',
               b'{"version":"1.1","host":"h"}', b'["an","array"]']
    bad_time = [R.gelf_json("bad time", timestamp="tomorrow"), R.gelf_json("neg", timestamp=-1)]
    R.udp_send(r.udp[0], invalid + missing + bad_time)
    R.tcp_send(r.tcp[0], b"".join(m + b"\0" for m in invalid[:3] + missing + bad_time))
    before = time.time()
    evs = output.wait_count(2 * len(missing + bad_time) + len(invalid) + 3)
    assert r.stop() == 0
    got = [e["message"] for e in evs]
    for m in invalid[:3] + missing + bad_time:
        assert got.count(m.decode()) == 2, m
    assert got.count("{\"host\":\"h\\xe9\"}") == 1  # not UTF-8: backslashreplace, as syslog
    assert all(abs(e["timestamp"] / 1000 - before) < 60 for e in evs), "receive time"
    c = r.counters()
    assert c["gelf_invalid_json"] == 4 + 3
    assert c["gelf_missing_fields"] == 2 * 4
    assert c["gelf_invalid_timestamp"] == 2 * 2
    assert c["messages_received"] == len(evs)


def test_tcp_framing_nul_lf_and_partial_at_close(relays, output):
    r = start_gelf(relays, udp=False)
    a, b, c_, d = (R.gelf_json(x, timestamp=1700000000.25) for x in ("nul", "lf", "crlf", "tail"))
    s = R.tcp_send(r.tcp[0], a + b"\0" + b + b"\n" + c_ + b"\r\n\0\0" + d, close=False)
    s.close()  # `d` has no terminator: delivered as it arrived, counted incomplete
    evs = check_delivered(output, [a, b, c_, d])
    assert all(e["timestamp"] == 1700000000250 for e in evs)
    assert r.stop() == 0
    c = r.counters()
    assert c["frames_incomplete"] == 1 and c["gelf_invalid_json"] == 0


def test_oversize_messages_are_dropped_not_truncated(relays, output):
    r = start_gelf(relays, extra=["--max-message-size", "1000"])
    def pad(n):
        return R.gelf_json("p" * (n - len(R.gelf_json("", timestamp=1))), timestamp=1)

    fits, over = pad(1000), pad(1001)
    assert len(fits) == 1000 and len(over) == 1001
    datagrams = [over, zlib.compress(over), gzip.compress(over)]
    datagrams += R.gelf_chunks(over, 100, msg_id=5)  # reassembles to 1001 bytes
    datagrams += R.gelf_chunks(R.gelf_json("x" * 3000), 100, msg_id=6)  # passes the set cap
    datagrams += [fits, zlib.compress(fits)]
    R.udp_send(r.udp[0], datagrams)
    R.tcp_send(r.tcp[0], over + b"\0" + fits + b"\n")
    evs = output.wait_count(3)
    # Checked after the stop, which delivers everything: nothing more can arrive then.
    assert r.stop() == 0
    assert [e["message"] for e in output.events()] == [fits.decode()] * 3
    assert all(len(e["message"]) == 1000 for e in evs)
    c = r.counters()
    assert c["gelf_oversize_dropped"] == 6
    assert c["messages_truncated"] == 0


def test_group_prefix_gives_prefix_gelf_port(relays, output):
    r = start_gelf(relays, extra=["--group-prefix", "acme/prod"])
    u, t = R.gelf_json("via udp"), R.gelf_json("via tcp")
    R.udp_send(r.udp[0], [zlib.compress(u)])
    R.tcp_send(r.tcp[0], t + b"\0")
    evs = output.wait_count(2)
    groups = {e["message"]: e["group"] for e in evs}
    assert groups == {u.decode(): f"acme/prod/gelf/{r.udp[0]}",
                      t.decode(): f"acme/prod/gelf/{r.tcp[0]}"}
    assert r.stop() == 0


# ---------------------------------------------------------------------------------------------
# Floods of first chunks: bounded memory, counted evictions, a good sender unharmed


def flood_chunk(rng):
    # The first chunk of a 128-chunk set that never completes: each would hold 1,000 bytes for
    # 5 s if nothing bounded them (100,000 of them: about 100 MB).
    return R.gelf_chunk(rng.getrandbits(64), 0, 128, b"f" * 1000)


def run_flood(r, output, flooders, total=100_000, burst=500):
    """Sends `total` first chunks round-robin from the `flooders` sockets while graypy, on
    127.0.0.1, logs one chunked message per burst; returns what graypy sent."""
    handler = RecordingUDPHandler(
        "127.0.0.1", r.udp[0], gelf_chunker=graypy.handler.GELFWarningChunker(chunk_size=200))
    log = gelf_logger("gelf.good", handler)
    rng = random.Random(65)
    target = ("127.0.0.1", r.udp[0])
    for n in range(0, total, burst):
        for k in range(n, n + burst):
            flooders[k % len(flooders)].sendto(flood_chunk(rng), target)
        log.info("good %d %s", n // burst, random_text(rng, 3000))
        time.sleep(0.002)
    handler.close()
    check_delivered(output, handler.sent)
    return handler


@pytest.mark.measures_memory
def test_first_chunk_flood_from_one_sender_is_bounded(relays, output):
    r = start_gelf(relays, tcp=False)
    warm = R.gelf_json("warm up")
    R.udp_send(r.udp[0], [warm])
    output.wait_count(1)
    before_kib = r.status_kib("VmHWM")
    flooder = R.udp_socket("127.0.0.2")  # another loopback address: another sender
    try:
        good = run_flood(r, output, [flooder])
    finally:
        flooder.close()
    growth_kib = r.status_kib("VmHWM") - before_kib
    assert r.stop() == 0
    c = r.counters()
    flood_sets = c["gelf_chunks"] - good.chunks_sent  # one first chunk per flood set
    assert flood_sets >= 90_000, "the flood reached the relay"
    # Every flood set ended evicted (the flooder holds 64 at most) or, at shutdown, expired.
    assert c["gelf_chunk_sets_evicted"] + c["gelf_chunk_sets_expired"] == flood_sets
    assert c["gelf_chunk_sets_evicted"] >= flood_sets - 64
    # Bound: the flooder's own caps (64 sets, 8 x 65 KiB) - it never reaches the overall caps -
    # plus the good sender's batches; 8 MiB leaves room for the allocator. Unbounded, the flood
    # would hold about 100 MB.
    print(f"\nVmHWM grew {growth_kib / 1024:.1f} MiB during a 100,000-set flood")
    assert growth_kib * 1024 < 8 * MIB


@pytest.mark.measures_memory
def test_first_chunk_flood_from_many_senders_is_bounded(relays, output):
    workers = 2
    r = start_gelf(relays, tcp=False, workers=workers)
    warm = R.gelf_json("warm up")
    R.udp_send(r.udp[0], [warm])
    output.wait_count(1)
    before_kib = r.status_kib("VmHWM")
    flooders = [R.udp_socket(f"127.0.1.{i}") for i in range(1, 41)]
    try:
        good = run_flood(r, output, flooders)
    finally:
        for s in flooders:
            s.close()
    growth_kib = r.status_kib("VmHWM") - before_kib
    assert r.stop() == 0
    c = r.counters()
    evicted, expired = c["gelf_chunk_sets_evicted"], c["gelf_chunk_sets_expired"]
    flood_sets = c["gelf_chunks"] - good.chunks_sent
    assert flood_sets >= 90_000, "the flood reached the relay"
    assert evicted + expired == flood_sets
    assert evicted >= flood_sets - workers * 1024
    # Bound: 40 senders fill the overall caps of each worker's socket (1,024 sets of about
    # 1.3 KiB, within 32 x 65 KiB = 2.03 MiB); two workers, and 8 MiB for the allocator and
    # the good sender's batches. Unbounded, the flood would hold about 100 MB.
    bound = workers * TOTAL_CAP + 8 * MIB
    print(f"\nVmHWM grew {growth_kib / 1024:.1f} MiB during a 40-sender flood "
          f"({evicted} evicted, {expired} expired; bound {bound / MIB:.1f} MiB)")
    assert growth_kib * 1024 < bound
