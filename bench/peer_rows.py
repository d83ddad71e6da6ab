"""Helpers of bench/harness.py for `--peer` rows (any relay command under the same load and
accounting as kinesyslog; bench/README.md, "Another relay in the same table") and for counting
this run's sequence numbers in any output.

Debian's /usr/bin/python3, standard library only.
"""

import json
import os
import re
import shlex
import socket
import string
import zlib
from pathlib import Path

PLACEHOLDERS = ("port", "protocol", "out", "workdir", "level", "cert", "key")


# ---------------------------------------------------------------------------------------------
# Command line


def parse_assignment(text, what):
    """'NAME=VALUE' -> (NAME, VALUE); NAME is letters, digits, '-', '_' and '.'."""
    name, sep, value = text.partition("=")
    name = name.strip()
    if not sep or not re.fullmatch(r"[A-Za-z0-9_.-]+", name) or not value.strip():
        raise ValueError(f"{what} {text!r}: expected NAME=VALUE, NAME of letters, digits, "
                         "'-', '_', '.'")
    return name, value.strip()


def expand_command(template, values):
    """Splits a shell-style command template (shlex: quotes and backslashes as in sh, no
    expansion) into arguments and fills the placeholders {port}, {protocol}, {out},
    {workdir}, {level}, {cert} and {key} in each argument (`{{` and `}}` are literal braces). A
    placeholder that is not one of these is an error, so a typo never reaches the peer."""
    try:
        words = shlex.split(template)
    except ValueError as e:
        raise ValueError(f"peer command {template!r}: {e}") from None
    if not words:
        raise ValueError("peer command is empty")
    out = []
    formatter = string.Formatter()
    for word in words:
        for _text, field, spec, conv in formatter.parse(word):
            if field is None:
                continue
            if field not in PLACEHOLDERS or spec or conv:
                raise ValueError(f"peer command {template!r}: unknown placeholder {{{field}}}; "
                                 f"known: {', '.join('{' + p + '}' for p in PLACEHOLDERS)}")
        out.append(word.format_map({k: str(v) for k, v in values.items()}))
    return out


def peer_environment(values):
    """The same values as environment variables (PEER_PORT, PEER_OUT, ...), for configuration
    files that read them (Fluent Bit and Vector both expand ${VAR} in their configuration)."""
    return {f"PEER_{k.upper()}": str(v) for k, v in values.items()}


# ---------------------------------------------------------------------------------------------
# A process tree in /proc


def _stat_fields(pid):
    """proc(5) /proc/PID/stat fields after the command name: [state, ppid, ...]."""
    with open(f"/proc/{pid}/stat", "rb") as f:
        return f.read().rsplit(b")", 1)[1].split()


def process_tree(root):
    """root and every descendant alive now (zombies included: their CPU time still counts)."""
    children = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            ppid = int(_stat_fields(entry)[1])
        except (OSError, IndexError, ValueError):
            continue  # gone meanwhile
        children.setdefault(ppid, []).append(int(entry))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(children.get(pid, ()))
    return tree


def tree_cpu_seconds(root, clk_tck):
    """User + sys CPU seconds of the tree: each process's own (utime, stime) plus what its
    reaped children used (cutime, cstime), proc(5) fields 14 to 17."""
    total = 0
    for pid in process_tree(root):
        try:
            f = _stat_fields(pid)
        except OSError:
            continue
        total += int(f[11]) + int(f[12]) + int(f[13]) + int(f[14])
    return total / clk_tck


def tree_peak_rss(root):
    """The sum of each process's peak resident set (VmHWM) in bytes: the tree's peak, or more
    when its processes peaked at different times."""
    total = 0
    for pid in process_tree(root):
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        total += int(line.split()[1]) * 1024
                        break
        except OSError:
            continue
    return total


# ---------------------------------------------------------------------------------------------
# Is it listening?


def tcp_accepts(port, host="127.0.0.1"):
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def udp_bound_ports(tables=("/proc/net/udp", "/proc/net/udp6")):
    """Local ports of every UDP socket (proc(5) /proc/net/udp: local_address is ADDR:PORT in
    hex)."""
    ports = set()
    for table in tables:
        try:
            with open(table) as f:
                next(f, None)  # header
                for line in f:
                    fields = line.split()
                    if len(fields) > 1 and ":" in fields[1]:
                        ports.add(int(fields[1].rsplit(":", 1)[1], 16))
        except OSError:
            continue
    return ports


# ---------------------------------------------------------------------------------------------
# Counting sequence numbers


class SeqCounter:
    """Distinct and duplicated sequence numbers of one run: [first, first + count) in a bit per
    number, anything else in a dict."""

    def __init__(self, first, count):
        self.first = first
        self.seen = bytearray(count)
        self.extra = {}
        self.distinct = 0
        self.duplicated = 0

    def add(self, seq):
        i = seq - self.first
        if 0 <= i < len(self.seen):
            if self.seen[i]:
                self.duplicated += 1
            else:
                self.seen[i] = 1
                self.distinct += 1
        else:
            self.extra[i] = self.extra.get(i, 0) + 1
            if self.extra[i] > 1:
                self.duplicated += 1
            else:
                self.distinct += 1


class _FileState:
    def __init__(self):
        self.offset = 0
        self.gzip = None  # None: not known yet (fewer than 2 bytes); True; False
        self.inflater = None
        self.carry = b""
        self.broken = ""


class OutputScanner:
    """Counts `run=ID seq=NNNNNNNNNN` tokens in every file under a directory, whatever the
    format: plain text (JSON lines, syslog lines, ...), a gzip file or a series of gzip members,
    written at once or appended to while the peer runs. Each file is read from where the last
    scan stopped (files are followed by inode, so a rename is not a new file; a file that
    shrank is read again from its start, counting its tokens as duplicates); a token cut by the
    end of what was read so far is completed by the next read. Never decodes more than what was
    appended since the last scan."""

    def __init__(self, root, run_id, first, count):
        self.root = Path(root)
        token = b"run=" + run_id.encode() + b" seq="
        self.pattern = re.compile(re.escape(token) + rb"(\d{10})")
        self.keep = len(token) + 10 - 1  # bytes that may start an incomplete token
        self.counter = SeqCounter(first, count)
        self.files = {}  # (st_dev, st_ino) -> _FileState
        self.sizes = {}  # (st_dev, st_ino) -> (size, mtime_ns) seen by changed()
        self.paths = {}  # (st_dev, st_ino) -> latest path
        self.bytes = 0
        self.last_time = 0.0

    @property
    def distinct(self):
        return self.counter.distinct

    @property
    def duplicated(self):
        return self.counter.duplicated

    def _walk(self):
        for dirpath, _dirs, names in os.walk(self.root):
            for name in names:
                path = os.path.join(dirpath, name)
                try:
                    st = os.stat(path)
                except OSError:
                    continue  # renamed or removed meanwhile
                yield path, st

    def changed(self):
        """True when a file appeared, grew, shrank or was touched since the last call. Only
        stats files: cheap enough to call while the peer is busy."""
        now = {}
        for path, st in self._walk():
            key = (st.st_dev, st.st_ino)
            now[key] = (st.st_size, st.st_mtime_ns)
            self.paths[key] = path
        changed = now != self.sizes
        self.sizes = now
        self.bytes = sum(size for size, _mtime in now.values())
        if now:
            self.last_time = max(self.last_time, max(m for _s, m in now.values()) / 1e9)
        return changed

    def decode(self):
        """Reads and counts whatever the files gained since the last decode."""
        self.changed()
        for key, (size, _mtime) in self.sizes.items():
            state = self.files.setdefault(key, _FileState())
            if size < state.offset:  # rewritten in place: read it again
                state = self.files[key] = _FileState()
            if size == state.offset or state.broken:
                continue
            try:
                with open(self.paths[key], "rb") as f:
                    f.seek(state.offset)
                    data = f.read(size - state.offset)
            except OSError:
                continue
            state.offset += len(data)
            self.feed(state, data)

    def feed(self, state, data):
        if state.gzip is None:
            data = state.carry + data
            state.carry = b""
            if len(data) < 2:
                state.carry = data
                return
            state.gzip = data[:2] == b"\x1f\x8b"
        if state.gzip:
            data = self._inflate(state, data)
        self._count(state, data)

    @staticmethod
    def _inflate(state, data):
        """Inflates a series of gzip members fed in pieces (RFC 1952 §2.2: members follow each
        other). Bytes after a broken member are not read."""
        out = []
        while data:
            if state.inflater is None or state.inflater.eof:
                state.inflater = zlib.decompressobj(wbits=31)
            try:
                out.append(state.inflater.decompress(data))
            except zlib.error as e:
                state.broken = f"bad gzip data: {e}"
                break
            data = state.inflater.unused_data if state.inflater.eof else b""
        return b"".join(out)

    def _count(self, state, data):
        text = state.carry + data
        end = 0
        for m in self.pattern.finditer(text):
            self.counter.add(int(m.group(1)))
            end = m.end()
        # Keep what could be the start of a token the next read completes; a whole token never
        # fits in it, so none is counted twice.
        state.carry = text[max(end, len(text) - self.keep):]

    def file_paths(self):
        return sorted(self.paths[key] for key in self.sizes)

    def broken_files(self):
        return [(self.paths.get(key, "?"), s.broken) for key, s in self.files.items() if s.broken]


def is_record_objects(paths, gzip_members):
    """True when every file is a series of gzip members each holding one JSON record with
    `logEvents`: the relay's own output (so the compression yardstick applies)."""
    if not paths:
        return False
    for path in paths:
        try:
            data = Path(path).read_bytes()
            members = gzip_members(data)
        except (OSError, ValueError, zlib.error):
            return False
        for raw in members:
            try:
                doc = json.loads(raw)
            except ValueError:
                return False
            if not isinstance(doc, dict) or not isinstance(doc.get("logEvents"), list):
                return False
    return True
