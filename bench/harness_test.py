"""Tests of the bench harness's own parts: the helpers of bench/peer_rows.py (command templates,
sequence-number counting in any output, /proc parsing) and `--peer` rows run for real against
small peers written here, that deliver everything (plain and gzip output) or lose messages.
scripts/test.sh runs them in its "harness smoke" stage, before `bench/harness.py --smoke`.

    /usr/bin/python3 -m pytest bench/harness_test.py -q -p no:cacheprovider
"""

import csv
import dataclasses
import gzip
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(BENCH))

import harness  # noqa: E402
import peer_rows as peer  # noqa: E402

RUN = "abc123"


def token(seq, run=RUN):
    return f"run={run} seq={seq:010d}".encode()


def lines(seqs, run=RUN):
    return b"".join(b'{"message":"<14>1 - host app - - - ' + token(s, run) + b' pad"}\n'
                    for s in seqs)


# --- command line ----------------------------------------------------------------------------


def test_parse_assignment_splits_at_the_first_equals_sign():
    assert peer.parse_assignment("fluent-bit=fluent-bit -o file,path={out} -p a=b", "--peer") \
        == ("fluent-bit", "fluent-bit -o file,path={out} -p a=b")


@pytest.mark.parametrize("text", ["no-equals", "=cmd", "bad name=cmd", "name=", "name=  "])
def test_parse_assignment_refuses_malformed(text):
    with pytest.raises(ValueError):
        peer.parse_assignment(text, "--peer")


def test_expand_command_fills_placeholders_inside_words_and_keeps_quoted_spaces():
    values = {"port": 5140, "protocol": "udp", "out": "/tmp/o d", "workdir": "/w", "level": 6,
              "cert": "c", "key": "k"}
    argv = peer.expand_command(
        "relay -i '{protocol}://127.0.0.1:{port}' --dir={out} --level {level} "
        "--json '{{\"a\": 1}}'", values)
    assert argv == ["relay", "-i", "udp://127.0.0.1:5140", "--dir=/tmp/o d", "--level", "6",
                    "--json", '{"a": 1}']


@pytest.mark.parametrize("template", ["relay {prot}", "relay {port!r}", "relay {port:5}",
                                      "relay 'unclosed", ""])
def test_expand_command_refuses_unknown_placeholders_and_bad_quoting(template):
    with pytest.raises(ValueError):
        peer.expand_command(template, {k: "x" for k in peer.PLACEHOLDERS})


def test_peer_environment_names():
    assert peer.peer_environment({"port": 1, "out": "/o"}) == {"PEER_PORT": "1",
                                                               "PEER_OUT": "/o"}


# --- counting --------------------------------------------------------------------------------


def test_seq_counter_counts_distinct_duplicates_and_numbers_outside_the_range():
    c = peer.SeqCounter(0, 3)
    for seq in (0, 1, 1, 2, 7, 7, 7):
        c.add(seq)
    assert (c.distinct, c.duplicated) == (4, 3)


def scanner(tmp_path, count=1000):
    return peer.OutputScanner(tmp_path, RUN, 0, count)


def test_scanner_follows_an_appended_text_file_cut_inside_tokens(tmp_path):
    data = lines(range(1000))
    path = tmp_path / "out.log"
    s = scanner(tmp_path)
    # Cut at every awkward place: inside "run=", inside the id, inside the digits.
    cuts = sorted({7, 30, 31, 45, 46, 52, 53, 100, 4097} | set(range(60, len(data), 997)))
    done = 0
    for cut in cuts + [len(data)]:
        with open(path, "ab") as f:
            f.write(data[done:cut])
        done = cut
        s.decode()
    assert (s.distinct, s.duplicated) == (1000, 0)
    assert s.bytes == len(data)


def test_scanner_counts_other_runs_tokens_not(tmp_path):
    (tmp_path / "a").write_bytes(lines(range(10)) + lines(range(10, 20), run="other"))
    s = scanner(tmp_path)
    s.decode()
    assert s.distinct == 10


def test_scanner_reads_gzip_members_appended_in_pieces(tmp_path):
    members = b"".join(gzip.compress(lines(range(i, i + 100))) for i in range(0, 1000, 100))
    path = tmp_path / "out.gz"
    s = scanner(tmp_path)
    for at in range(0, len(members), 333):
        with open(path, "ab") as f:
            f.write(members[at:at + 333])
        s.decode()
    assert (s.distinct, s.duplicated) == (1000, 0)


def test_scanner_reads_one_gzip_stream_written_while_it_grows(tmp_path):
    path = tmp_path / "sink.log.gz"
    s = scanner(tmp_path)
    with gzip.open(path, "wb") as f:
        for i in range(0, 1000, 50):
            f.write(lines(range(i, i + 50)))
            f.flush()  # a sync flush: what was written so far can be inflated
            s.decode()
    s.decode()
    assert (s.distinct, s.duplicated) == (1000, 0)


def test_scanner_follows_a_renamed_file_and_counts_each_copy_of_a_copied_one(tmp_path):
    s = scanner(tmp_path)
    (tmp_path / ".part").write_bytes(lines(range(100)))
    s.decode()
    (tmp_path / ".part").rename(tmp_path / "done")
    s.decode()
    assert (s.distinct, s.duplicated) == (100, 0)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "again").write_bytes(lines(range(50)))
    s.decode()
    assert (s.distinct, s.duplicated) == (100, 50)
    assert s.file_paths() == [str(tmp_path / "done"), str(tmp_path / "sub" / "again")]


def test_scanner_stops_at_broken_gzip_and_says_so(tmp_path):
    good = gzip.compress(lines(range(10)))
    # A second member whose deflate data starts with a block of the reserved type 3 (RFC 1951
    # §3.2.3): invalid.
    bad = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff\x07"
    (tmp_path / "x.gz").write_bytes(good + bad + lines([11]))
    s = scanner(tmp_path)
    s.decode()
    assert s.distinct == 10
    [(path, why)] = s.broken_files()
    assert path.endswith("x.gz") and "bad gzip" in why


def test_is_record_objects_tells_the_relays_format_from_others(tmp_path):
    record = gzip.compress(b'{"messageType":"DATA_MESSAGE","logEvents":[]}')
    (tmp_path / "a").write_bytes(record + record)
    assert peer.is_record_objects([tmp_path / "a"], harness.gzip_members)
    (tmp_path / "b").write_bytes(gzip.compress(lines(range(3))))
    assert not peer.is_record_objects([tmp_path / "a", tmp_path / "b"], harness.gzip_members)
    (tmp_path / "c").write_bytes(lines(range(3)))
    assert not peer.is_record_objects([tmp_path / "c"], harness.gzip_members)
    assert not peer.is_record_objects([], harness.gzip_members)


# --- /proc -----------------------------------------------------------------------------------


def test_udp_bound_ports_reads_the_proc_tables(tmp_path):
    table = tmp_path / "udp"
    table.write_text(
        "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid\n"
        "  123: 0100007F:14B4 00000000:0000 07 00000000:00000000 00:00000000 00000000     0\n"
        "  124: 00000000:0202 00000000:0000 07 00000000:00000000 00:00000000 00000000     0\n")
    assert peer.udp_bound_ports((str(table), str(tmp_path / "missing"))) == {5300, 514}


def test_process_tree_cpu_and_rss_include_children():
    # A shell whose child burns CPU; the tree holds both and their CPU.
    proc = subprocess.Popen(["/bin/sh", "-c", "/usr/bin/python3 -c 'import time\n"
                             "t = time.process_time()\nwhile time.process_time() - t < 0.3: pass\n"
                             "time.sleep(30)' & wait"])
    try:
        for _ in range(100):  # poll: the child may take a while to start on a busy machine
            if len(peer.process_tree(proc.pid)) == 2:
                break
            time.sleep(0.1)
        assert len(peer.process_tree(proc.pid)) == 2
        cpu = 0.0
        for _ in range(200):
            cpu = peer.tree_cpu_seconds(proc.pid, os.sysconf("SC_CLK_TCK"))
            if cpu >= 0.3:
                break
            time.sleep(0.1)
        assert cpu >= 0.29
        assert peer.tree_peak_rss(proc.pid) > peer.tree_peak_rss(peer.process_tree(proc.pid)[1])
    finally:
        for pid in reversed(peer.process_tree(proc.pid)):
            os.kill(pid, 9)
        proc.wait()


# --- --peer rows, run for real (needs scripts/build.sh kinesyslog_loadgen) -----------------------

# A TCP peer in a few lines: accepts connections and writes what it reads to {out}/received
# (gzip when asked), at most LIMIT bytes in all (to lose messages on purpose). On SIGTERM it
# reads its connections to their end before it closes the file, as a relay drains: on a busy
# machine it may not have read everything when the harness stops it.
SMALL_PEER = r"""
import gzip, selectors, signal, socket, sys
port, out, mode, limit = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
f = gzip.open(out + "/received.gz", "wb") if mode == "gzip" else open(out + "/received", "wb")
server = socket.create_server(("127.0.0.1", port))
sel = selectors.DefaultSelector()
sel.register(server, selectors.EVENT_READ)
written, stopping = 0, []
signal.signal(signal.SIGTERM, lambda *_: stopping.append(1))
while not (stopping and len(sel.get_map()) == 1):
    for key, _ in sel.select(timeout=0.1):
        if key.fileobj is server:
            conn, _ = server.accept()
            sel.register(conn, selectors.EVENT_READ)
            continue
        data = key.fileobj.recv(1 << 16)
        if not data:
            sel.unregister(key.fileobj)
            key.fileobj.close()
            continue
        keep = data[:max(0, limit - written)]
        written += len(keep)
        f.write(keep)
        f.flush()
f.close()
"""

def run_harness(tmp_path, *peers):
    script = tmp_path / "small_peer.py"
    script.write_text(SMALL_PEER)
    cmd = [sys.executable, str(BENCH / "harness.py"), "--scenarios", "none", "--count", "5000",
           "--settle", "2", "--out", str(tmp_path / "results")]
    for name, mode, limit in peers:
        cmd += ["--peer", f"{name}={sys.executable} {script} {{port}} {{out}} {mode} {limit}"]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    rows = list(csv.DictReader(open(tmp_path / "results" / "results.csv")))
    return p, {r["relay"]: r for r in rows}


def test_peer_rows_count_plain_and_gzip_output(tmp_path):
    p, rows = run_harness(tmp_path, ("plain", "plain", 1 << 40), ("gz", "gzip", 1 << 40))
    assert p.returncode == 0, p.stdout + p.stderr
    for name in ("plain", "gz"):
        r = rows[name]
        assert (r["scenario"], r["sent"], r["delivered"], r["missing"], r["duplicated"]) == \
            ("tcp-octet-l1", "5000", "5000", "0", "0")
        assert r["compression_share"] == ""  # not the relay's record format
        assert r["relay_exit"] == "0"
        assert float(r["relay_cpu_seconds"]) >= 0
    assert int(rows["gz"]["object_bytes"]) < int(rows["plain"]["object_bytes"])


def test_a_peer_that_loses_messages_fails_the_run(tmp_path):
    p, rows = run_harness(tmp_path, ("lossy", "plain", 300_000))
    assert p.returncode == 1, p.stdout + p.stderr
    r = rows["lossy"]
    assert 0 < int(r["delivered"]) < 5000
    assert int(r["missing"]) == 5000 - int(r["delivered"])
    verdicts = [line.split() for line in p.stdout.splitlines()
                if line.startswith("lossy: tcp-octet-l1") and "missing = 0" in line]
    assert verdicts and verdicts[0][-1] == "MISS"


def test_a_peer_that_does_not_start_is_an_error(tmp_path):
    cmd = [sys.executable, str(BENCH / "harness.py"), "--scenarios", "none", "--count", "100",
           "--out", str(tmp_path / "results"), "--peer", "broken=/bin/false {port}"]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert p.returncode == 2, p.stdout + p.stderr
    assert "peer exited with 1 before listening" in p.stdout


# --- output ----------------------------------------------------------------------------------


def sweep_result(name, workers, level, journal, msgs_per_second):
    sc = harness.Scenario(name, "loadgen", "tcp", level=level, workers=workers, count=1000,
                          sweep=True, journal=journal)
    r = harness.Result(sc, sent=1000, delivered=1000, wall_seconds=1000 / msgs_per_second,
                       cpu_seconds=0.002)
    r.yardstick = {"cpu_seconds": 0.001}
    return r


def test_journal_both_adds_the_journal_column_and_plots_a_line_per_level_and_journal(tmp_path):
    results = [sweep_result(f"tcp-octet-w{w}-l{level}", w, level, journal, 100_000 * w)
               for journal in (True, False) for level in (1, 6) for w in (1, 2)]
    headers = [h for h, _w, _f in harness.columns(results)]
    assert headers[:2] == ["scenario", "journal"] and "relay" not in headers
    assert "| tcp-octet-w1-l1 | off |" in harness.markdown_table(results)
    assert harness.write_plot(tmp_path, results, "test") == tmp_path / "plot.png"
    blocks = (tmp_path / "sweep.dat").read_text().split("\n\n\n")
    assert [b.splitlines()[0] for b in blocks if b.strip()] == [
        "# level 1, journal on: workers msgs_per_second cpu_seconds_per_million",
        "# level 6, journal on: workers msgs_per_second cpu_seconds_per_million",
        "# level 1, journal off: workers msgs_per_second cpu_seconds_per_million",
        "# level 6, journal off: workers msgs_per_second cpu_seconds_per_million"]
    assert (tmp_path / "plot.png").stat().st_size > 1000


def test_one_journal_setting_has_no_journal_column_and_a_peer_adds_the_relay_column():
    ours = sweep_result("tcp-octet-l1", 2, 1, True, 500_000)
    assert "journal" not in [h for h, _w, _f in harness.columns([ours])]
    theirs = sweep_result("tcp-octet-l1", 2, 1, True, 500_000)
    theirs.scenario = dataclasses.replace(theirs.scenario, peer="vector", peer_command="vector")
    theirs.records_format = False
    headers = [h for h, _w, _f in harness.columns([ours, theirs])]
    assert headers[:2] == ["scenario", "relay"]
    assert harness.share_cell(theirs) == "-"


def test_targets_follow_the_design():
    cores = os.cpu_count() or 1

    def rows(name, transport, level, **kw):
        sc = harness.Scenario(name, "loadgen", transport, level=level, workers=cores, count=10,
                              **kw)
        r = harness.Result(sc, sent=10, delivered=10, wall_seconds=1.0, cpu_seconds=1.0)
        r.yardstick = {"cpu_seconds": 0.5}
        r.reader_cpu_used = 0.2
        return {t[1]: t[3] for t in harness.targets([r], argparse_defaults())}

    t = rows("tcp-octet-l1", "tcp", 1)
    assert t["compression share >= 0.77"] == "MISS" and "msgs/s >= 1,000,000" in t
    assert rows("tcp-octet-l6", "tcp", 6)["compression share >= 0.85"] == "MISS"
    assert "msgs/s >= 300,000 (floor)" in rows("tls-octet-l1", "tls", 1)
    assert "compression share >= 0.77" in rows("tls-octet-l1", "tls", 1)
    assert rows("gelf-tcp-l1", "gelf-tcp", 1)["compression share >= 0.50"] == "PASS"
    assert rows("gelf-tls-l1", "gelf-tls", 1)["compression share >= 0.50"] == "PASS"
    # Over UDP the reader's CPU counts: (0.5 + 0.2) / 1.0.
    u = rows("udp-paced-l1", "udp", 1, rate=200_000)
    assert u["compression share (+ recvmmsg reader) >= 0.60"] == "PASS"
    g = rows("gelf-udp-plain-l6", "gelf-udp", 6, rate=200_000)
    assert g["compression share (+ recvmmsg reader) >= 0.77"] == "MISS"


def argparse_defaults():
    class Args:
        flush_size = None
    return Args()


def test_in_run_share_uses_the_relays_own_compression_cpu_and_the_reader_over_udp():
    tcp = sweep_result("tcp-octet-l1", 2, 1, True, 500_000)
    tcp.cpu_seconds = 4.0
    tcp.counters = {"compression_cpu_microseconds": 3_000_000}
    assert tcp.in_run_share == pytest.approx(0.75)
    assert harness.in_run_share_cell(tcp) == "0.75"
    tcp.counters = {}  # a relay that does not count it
    assert tcp.in_run_share is None and harness.in_run_share_cell(tcp) == "-"
    udp = harness.Result(harness.Scenario("udp-paced-l1", "loadgen", "udp", level=1, workers=2,
                                          count=10), sent=10, delivered=10, wall_seconds=1.0,
                         cpu_seconds=4.0)
    udp.counters = {"compression_cpu_microseconds": 2_000_000}
    assert udp.in_run_share is None  # the reader has not run: no UDP share without it
    udp.reader_cpu_used = 0.4
    assert udp.in_run_share == pytest.approx(0.6)
