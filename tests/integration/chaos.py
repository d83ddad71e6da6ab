"""Helpers for the chaos tests (test_chaos_*.py): sustained numbered senders, a small tmpfs made
and removed by the test, and the relay's CPU time and resident memory read from /proc.
Standard library only."""

import base64
import contextlib
import errno
import os
import re
import socket
import subprocess
import threading
import time
from pathlib import Path

import relay as R

ID_RE = re.compile(r" id=(\S+) ")
CLK_TCK = os.sysconf("SC_CLK_TCK")


def message(ident, pad=60):
    """An RFC 5424 message tagged `id=...`, padded with random base64 (compresses poorly, so a
    spool or output directory fills in seconds)."""
    filler = base64.b64encode(os.urandom(pad * 3 // 4)).decode()
    return f"<13>1 2026-01-01T00:00:00.000Z host app - - - id={ident} {filler}"


def ids(events):
    return R.tagged_values(events, ID_RE)


class Senders:
    """TCP connections and one UDP socket sending numbered messages at a steady pace until
    stopped. A TCP message counts as sent once all its bytes are in the kernel: when the relay
    stops reading, `sendall` blocks and the count stops (`tcp_stalled_for`)."""

    def __init__(self, tag, tcp_port=None, udp_port=None, tcp_connections=2, per_second=1500,
                 udp_per_second=None, batch=20):
        self.tag = tag
        self.tcp_sent = set()
        self.udp_sent = set()
        self.lock = threading.Lock()
        self.stop_event = threading.Event()
        self.batch = batch
        self.errors = []
        self.last_tcp_progress = time.monotonic()
        self.threads = []
        if tcp_port is not None:
            self.threads += [threading.Thread(target=self._tcp, args=(tcp_port, c, per_second))
                             for c in range(tcp_connections)]
        if udp_port is not None:
            self.threads.append(threading.Thread(
                target=self._udp, args=(udp_port, udp_per_second or per_second)))
        for t in self.threads:
            t.start()

    def _paced(self, send, prefix, per_second, sent):
        start = time.monotonic()
        n = 0
        while not self.stop_event.is_set():
            idents = [f"{prefix}-{n + i}" for i in range(self.batch)]
            send(idents)
            with self.lock:
                sent.update(idents)
            n += self.batch
            delay = start + n / per_second - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            elif delay < -1.0:
                start = time.monotonic() - n / per_second  # after a stall: no catch-up burst

    def _tcp(self, port, c, per_second):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        # A small send buffer: a sender the relay stops reading blocks within a second.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 32768)
        s.connect(("127.0.0.1", port))
        try:
            def send(idents):
                s.sendall(b"".join((message(i) + "\n").encode() for i in idents))
                self.last_tcp_progress = time.monotonic()

            self._paced(send, f"{self.tag}t{c}", per_second, self.tcp_sent)
        except OSError as e:
            self.errors.append(e)
        finally:
            s.close()

    def _udp(self, port, per_second):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)

        def send(idents):
            for i in idents:
                s.sendto(message(i).encode(), ("127.0.0.1", port))

        try:
            self._paced(send, f"{self.tag}u", per_second, self.udp_sent)
        finally:
            s.close()

    def counts(self):
        with self.lock:
            return len(self.tcp_sent), len(self.udp_sent)

    def tcp_stalled_for(self):
        return time.monotonic() - self.last_tcp_progress

    def join(self, timeout=60):
        for t in self.threads:
            t.join(timeout)

    def finish(self, timeout=60):
        """Stops the senders; blocked TCP senders finish their batch first (the relay must read
        it). Returns (tcp ids sent, udp ids sent)."""
        self.stop_event.set()
        for t in self.threads:
            t.join(timeout)
            assert not t.is_alive(), "a sender is still blocked: the relay never read again"
        assert not self.errors, self.errors
        return set(self.tcp_sent), set(self.udp_sent)


def poll(condition, timeout=R.WAIT_TIMEOUT, what="condition", interval=0.05):
    """Calls condition() until it returns a true value (returned) or `timeout` passes."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


@contextlib.contextmanager
def tmpfs(path, size):
    """A tmpfs of `size` (mount's syntax: "4m") at `path`, unmounted at the end whatever
    happens (needs root; CI runs the suite as root)."""
    assert os.geteuid() == 0, "mounting a small file system needs root (CI runs as root)"
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(path)],
                   check=True)
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def remount(path, size):
    subprocess.run(["mount", "-o", f"remount,size={size}", str(path)], check=True)


def fill(directory):
    """Appends to a file in `directory` until its file system is full; returns its path. Called
    again, it takes back what the relay freed meanwhile (delivered records deleted)."""
    filler = Path(directory) / ".filler"  # hidden: Output() skips dot files
    # Unbuffered: a buffered file keeps what a short write left over and tries it again when
    # it is closed, which raised ENOSPC out of the `with` once the disk was full.
    with open(filler, "ab", buffering=0) as f:
        try:
            while True:
                f.write(b"\0" * 65536)
        except OSError as e:
            if e.errno != errno.ENOSPC:
                raise
    return filler


def cpu_seconds(pid):
    """User + system CPU time of process `pid` and all its threads (/proc/<pid>/stat fields 14
    and 15, in clock ticks)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def rss_kib(pid):
    return R.proc_status_kib(pid, "VmRSS")


def open_fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))
