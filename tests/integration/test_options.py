"""Options (docs/design.md "Command line"): KINESYSLOG_* environment variables, --group-prefix, --owner,
--stream naming, and the dump subcommand."""

import json
import time

import pytest

import relay as R


def msg(text):
    return f"<13>1 2026-01-02T03:04:05.678Z host app - - - {text}"


def test_env_vars_open_both_tcp_ports(relays, dirs):
    a, b, u = R.free_port(), R.free_port(), R.free_port()
    env = {
        "KINESYSLOG_TCP_PORT": f"{a} {b}",
        "KINESYSLOG_UDP_PORT": str(u),
        "KINESYSLOG_OUTPUT_DIR": str(dirs.out),
        "KINESYSLOG_SPOOL_DIR": str(dirs.spool),
        "KINESYSLOG_ADDRESS": "127.0.0.1",
        "KINESYSLOG_FLUSH_INTERVAL": "0.2",
        "KINESYSLOG_STREAM": "from-env",
    }
    r = relays.start(args=["listen"], env=env)
    R.tcp_send(a, (msg("to port a") + "\n").encode())
    R.tcp_send(b, (msg("to port b") + "\n").encode())
    R.udp_send(u, [msg("to udp").encode()])
    out = R.Output(dirs.out, stream="from-env")
    evs = out.wait_count(3)
    assert sorted(e["message"] for e in evs) == sorted(
        [msg("to port a"), msg("to port b"), msg("to udp")]
    )
    assert r.stop() == 0


def test_group_prefix_owner_stream_and_dump(relays, dirs):
    a, b, u = R.free_port(), R.free_port(), R.free_port()
    r = relays.start(udp=[u], tcp=[a, b],
                     extra=["--group-prefix", "acme/prod", "--owner", "123456789012",
                            "--stream", "my-stream"])
    R.tcp_send(a, (msg("via a") + "\n").encode())
    R.tcp_send(b, (msg("via b") + "\n").encode())
    R.udp_send(u, [msg("via udp").encode()])
    out = R.Output(dirs.out, stream="my-stream")
    evs = out.wait_count(3)
    got = {e["message"]: e for e in evs}
    assert set(got) == {msg("via a"), msg("via b"), msg("via udp")}
    assert got[msg("via a")]["group"] == f"acme/prod/syslog/{a}"
    assert got[msg("via b")]["group"] == f"acme/prod/syslog/{b}"
    assert got[msg("via udp")]["group"] == f"acme/prod/syslog/{u}"
    assert all(e["owner"] == "123456789012" and e["stream"] == "127.0.0.1" for e in evs)
    assert r.stop() == 0

    files = [str(dirs.out / o) for o in out.objects()]
    events = out.events()
    text = R.run_relay(["dump", *files])
    assert text.returncode == 0, text.stderr
    lines = [l for l in text.stdout.decode().splitlines() if l.strip()]
    assert len(lines) == len(events), lines
    for e in events:
        line = next((l for l in lines if e["message"] in l), None)
        assert line is not None, f"{e['message']!r} not dumped:\n{lines}"
        assert e["group"] in line and e["stream"] in line

    js = R.run_relay(["dump", "--json", *files])
    assert js.returncode == 0, js.stderr
    dumped = [json.loads(l) for l in js.stdout.decode().splitlines() if l.strip()]
    assert len(dumped) == len(events)
    want = sorted((e["group"], e["stream"], e["id"], e["timestamp"], e["message"]) for e in events)
    have = sorted((d["logGroup"], d["logStream"], d["id"], d["timestamp"], d["message"])
                  for d in dumped)
    assert have == want


def test_port_zero_disables_listener(relays, output):
    tcp = R.free_port()
    r = relays.start(udp=[0], tcp=[tcp])
    assert "udp" not in r.stderr.split("ready", 1)[1].split(";", 1)[0], r.stderr
    R.tcp_send(tcp, (msg("only tcp") + "\n").encode())
    assert [e["message"] for e in output.wait_count(1)] == [msg("only tcp")]
    assert r.stop() == 0


def test_dump_reads_records_over_one_megabyte_of_json(relays, dirs):
    """A 4 MiB flush of compressible messages makes records whose JSON is several MB; dump must
    read them whole (regression: simdjson's default 1 MB parse_many window refused them)."""
    n = 20_000
    r = relays.start(tcp=[R.free_port()], flush_interval="60")
    R.tcp_send(r.tcp[0], "".join(msg(f"seq={i:06d} " + "word " * 30) + "\n"
                                 for i in range(n)).encode())
    # All read before SIGTERM, so that they fill one flush (a drain would cut the batch where
    # the reading had got to).
    deadline = time.monotonic() + R.WAIT_TIMEOUT
    while r.counters_now()["messages_received"] < n and time.monotonic() < deadline:
        time.sleep(0.1)
    assert r.stop() == 0, r.stderr
    out = R.Output(dirs.out)
    biggest = max(len(json.dumps(rec)) for rec in out.records())
    assert biggest > 1_048_576, f"largest record JSON only {biggest} bytes"
    files = [str(dirs.out / o) for o in out.objects()]
    js = R.run_relay(["dump", "--json", *files])
    assert js.returncode == 0, js.stderr
    seqs = sorted(json.loads(l)["message"].split("seq=")[1][:6]
                  for l in js.stdout.decode().splitlines() if l.strip())
    assert seqs == [f"{i:06d}" for i in range(n)]


# Settings with which the relay would start but never deliver: exit 2 and one line naming the
# option, before anything is opened (docs/operations.md lists the minimums).
NEVER_DELIVER = [
    (["--spool-max-bytes", "0"], "--spool-max-bytes 0 is below one record (1024000 bytes"),
    (["--spool-max-bytes", "1023999"], "--spool-max-bytes 1023999 is below one record"),
    (["--partial-budget", "0"], "--partial-budget 0 is below one --max-message-size"),
    (["--partial-budget", "64K", "--max-message-size", "128K", "--workers", "1"],
     "--partial-budget 65536 is below one --max-message-size (131072)"),
    (["--workers", "0"], "--workers"),
    (["--flush-size", "0"], "--flush-size"),
    (["--flush-interval", "0"], "--flush-interval"),
    (["--flush-interval", "-1"], "--flush-interval"),
    (["--shutdown-grace", "0"], "--shutdown-grace"),
    (["--shutdown-grace", "-1"], "--shutdown-grace"),
]


@pytest.mark.parametrize("extra,needle", NEVER_DELIVER,
                         ids=["-".join(e).lstrip("-") for e, _ in NEVER_DELIVER])
def test_settings_that_can_never_deliver_exit_2(dirs, extra, needle):
    port = R.free_port()
    p = R.run_relay(R.listen_args(dirs.out, dirs.spool, udp=[port], tcp=[port], extra=extra))
    err = p.stderr.decode(errors="replace")
    assert p.returncode == 2, (p.returncode, err)
    lines = R.problem_lines(err)
    assert len(lines) == 1, f"want one line naming the problem, got:\n{err}"
    assert needle in lines[0], lines[0]
    assert "ready" not in err


def test_smallest_spool_and_budget_still_deliver(relays, output):
    """The minimums themselves are usable: one record's worth of spool, one message of budget."""
    r = relays.start(udp=[R.free_port()], tcp=[R.free_port()],
                     extra=["--spool-max-bytes", "1024000", "--partial-budget", "64K",
                            "--workers", "1", "--shutdown-grace", "0.5"])
    R.tcp_send(r.tcp[0], (msg("tcp at the minimums") + "\n").encode())
    R.udp_send(r.udp[0], [msg("udp at the minimums").encode()])
    evs = output.wait_count(2)
    assert sorted(e["message"] for e in evs) == [msg("tcp at the minimums"),
                                                 msg("udp at the minimums")]
    assert r.stop() == 0, r.stderr

