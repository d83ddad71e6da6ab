"""The journal (docs/operations.md "Journal"): a message the relay has read survives the relay's
death. SIGKILL at random moments during paced TCP and UDP sends, restart on the same spool,
repeat: every message the relay had read (its counter at the kill) is delivered, none twice.
And shutdown ends within the grace plus a few seconds when the spool's disk is full."""

import os
import random
import re
import socket
import subprocess
import threading
import time
from pathlib import Path

import relay as R

ID_RE = re.compile(r" id=(\S+) ")


def message(ident, pad=40):
    return f"<13>1 2026-01-01T00:00:00.000Z host app - - - id={ident} " + "x" * pad


def ids(events):
    return R.tagged_values(events, ID_RE)


def journal_files(spool):
    return sorted(p.name for p in Path(spool).glob("kinesyslog-journal-*"))


class PacedSenders:
    """TCP connections and a UDP socket sending numbered messages at a steady pace until stopped
    (or until the relay dies under them)."""

    def __init__(self, tag, tcp_port, udp_port, tcp_connections=2, per_second=2000):
        self.tag = tag
        self.sent = set()
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._tcp, args=(tcp_port, c, per_second))
                        for c in range(tcp_connections)]
        self.threads.append(threading.Thread(target=self._udp, args=(udp_port, per_second)))
        for t in self.threads:
            t.start()

    def _paced(self, send, prefix, per_second):
        batch = 20
        start = time.monotonic()
        n = 0
        while not self.stop.is_set():
            idents = [f"{prefix}-{n + i}" for i in range(batch)]
            try:
                send(idents)
            except OSError:
                return  # the relay died under us
            with self.lock:
                self.sent.update(idents)
            n += batch
            delay = start + n / per_second - time.monotonic()
            if delay > 0:
                time.sleep(delay)

    def _tcp(self, port, c, per_second):
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        try:
            self._paced(lambda idents: s.sendall(
                b"".join((message(i) + "\n").encode() for i in idents)),
                f"{self.tag}t{c}", per_second)
        finally:
            s.close()

    def _udp(self, port, per_second):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)

        def send(idents):
            for i in idents:
                s.sendto(message(i).encode(), ("127.0.0.1", port))

        try:
            self._paced(send, f"{self.tag}u", per_second)
        finally:
            s.close()

    def finish(self):
        self.stop.set()
        for t in self.threads:
            t.join(30)
        return set(self.sent)


def test_sigkill_at_random_moments_loses_nothing_read(relays, dirs, output):
    rng = random.Random(20261231)
    port_tcp, port_udp = R.free_port(), R.free_port()
    read_at_kill = {}
    sent = {}
    rounds = 6
    for n in range(rounds):
        # Both the default flush interval (everything only in memory and the journal) and a
        # short one (some batches spooled and marked, some not) are killed.
        flush = "1" if n % 2 else None
        r = relays.start(tcp=[port_tcp], udp=[port_udp], flush_interval=flush)
        senders = PacedSenders(f"r{n}", port_tcp, port_udp)
        time.sleep(rng.uniform(0.3, 2.0))
        read_at_kill[n] = r.counters_now()["messages_received"]
        r.kill()
        sent[n] = senders.finish()
        assert read_at_kill[n] > 0, r.stderr
    # A last start replays the last round's journal; then a clean stop delivers everything.
    r = relays.start(tcp=[port_tcp], udp=[port_udp])
    assert r.stop() == 0, r.stderr
    c = r.counters()
    assert c["journal_replayed_messages"] > 0, c

    got = ids(output.events())
    dup = len(got) - len(set(got))
    assert dup == 0, f"{dup} messages delivered twice"
    all_sent = set().union(*sent.values())
    stray = set(got) - all_sent
    assert not stray, f"delivered but never sent: {sorted(stray)[:5]}"
    for n in range(rounds):
        delivered = sum(1 for i in got if i.startswith(f"r{n}t") or i.startswith(f"r{n}u"))
        assert delivered >= read_at_kill[n], (
            f"round {n}: relay had read {read_at_kill[n]} messages when killed, "
            f"{delivered} delivered")
    # Every journal segment was deleted once its messages were spooled, and every record
    # delivered.
    assert journal_files(dirs.spool) == []
    assert not list(Path(dirs.spool).glob("kinesyslog-*.gz"))


def test_sigkill_after_the_relay_read_everything_loses_nothing(relays, dirs, output, tmp_path):
    """The sender waited until the relay had read all of it (logger over TCP, octet-counted,
    and UDP): killed then, the relay delivers every message after a restart, exactly once."""
    n_tcp, n_udp = 3000, 500
    lines = tmp_path / "lines.txt"
    lines.write_text("".join(f"id=lt-{i} hello\n" for i in range(n_tcp)))
    port_tcp, port_udp = R.free_port(), R.free_port()
    r = relays.start(tcp=[port_tcp], udp=[port_udp], flush_interval=None)
    subprocess.run(["logger", "-T", "--octet-count", "-n", "127.0.0.1", "-P", str(port_tcp),
                    "--rfc5424", "-t", "app", "-f", str(lines)], check=True, timeout=60)
    R.udp_send(port_udp, [message(f"lu-{i}").encode() for i in range(n_udp)], pace=0.0005)
    deadline = time.monotonic() + R.WAIT_TIMEOUT
    while r.counters_now()["messages_received"] < n_tcp + n_udp:
        assert time.monotonic() < deadline, r.stderr[-3000:]
        time.sleep(0.1)
    assert journal_files(dirs.spool), "the journal holds what was read"
    assert not list(Path(dirs.spool).glob("kinesyslog-*.gz")), "nothing spooled yet (60 s flush)"
    r.kill()

    r2 = relays.start(tcp=[port_tcp], udp=[port_udp])
    assert r2.stop() == 0, r2.stderr
    got = [re.search(r"id=(\S+)", e["message"]).group(1) for e in output.events()]
    assert len(got) == len(set(got)) == n_tcp + n_udp, (len(got), len(set(got)))
    assert set(got) == {f"lt-{i}" for i in range(n_tcp)} | {f"lu-{i}" for i in range(n_udp)}
    c = r2.counters()
    assert c["journal_replayed_messages"] == n_tcp + n_udp, c
    assert journal_files(dirs.spool) == []


def test_no_journal_keeps_the_in_memory_window(relays, dirs, output):
    """--no-journal: no journal files, and SIGKILL loses what was only in memory (the window
    the docs describe); the journal is what closes it."""
    port = R.free_port()
    r = relays.start(tcp=[port], flush_interval=None, extra=["--no-journal"])
    R.tcp_send(port, b"".join((message(f"nj-{i}") + "\n").encode() for i in range(500)))
    deadline = time.monotonic() + R.WAIT_TIMEOUT
    while r.counters_now()["messages_received"] < 500:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert journal_files(dirs.spool) == []
    r.kill()
    r2 = relays.start(tcp=[port])
    assert r2.stop() == 0
    assert output.events() == []


def fill(path):
    """Writes a file until the file system says it is full; returns its path."""
    filler = Path(path) / "filler"
    with open(filler, "wb") as f:
        try:
            while True:
                f.write(b"\0" * 65536)
                f.flush()
        except OSError:
            pass
    return filler


def test_shutdown_ends_when_the_spool_disk_is_full(relays, dirs, output, tmp_path):
    """Spool writes failing at shutdown (disk full) are given up a few seconds past the grace:
    SIGTERM ends, exit 75, the loss is counted and logged, and the journal keeps the messages, so
    the next start, with space again, delivers every one exactly once."""
    assert os.geteuid() == 0, "mounting a small file system needs root (CI runs as root)"
    spool = tmp_path / "small-spool"
    spool.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(spool)], check=True)
    try:
        port = R.free_port()
        n = 2000
        r = relays.start(tcp=[port], spool=spool, flush_interval=None,
                         extra=["--shutdown-grace", "2"])
        R.tcp_send(port, b"".join((message(f"df-{i}", 200) + "\n").encode() for i in range(n)))
        deadline = time.monotonic() + R.WAIT_TIMEOUT
        while r.counters_now()["messages_received"] < n:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        filler = fill(spool)
        started = time.monotonic()
        code = r.stop(timeout=60)
        took = time.monotonic() - started
        assert took < 2 + 5 + 5, f"shutdown took {took:.1f} s with a 2 s grace"
        assert code == 75, (code, r.stderr[-3000:])
        c = r.counters()
        assert c["shutdown_unspooled_messages"] == n, c
        assert c["spool_write_errors"] >= 1, c
        assert "could not be written to the spool" in r.stderr
        assert journal_files(spool), "the journal keeps the unspooled messages"

        filler.unlink()
        r2 = relays.start(tcp=[port], spool=spool)
        assert r2.stop() == 0, r2.stderr
        got = ids(output.events())
        assert len(got) == n and set(got) == {f"df-{i}" for i in range(n)}, len(got)
        assert journal_files(spool) == []
    finally:
        subprocess.run(["umount", "-l", str(spool)], check=False)
