"""Signals (docs/design.md "Spool and delivery"): SIGUSR1 logs the counters line and the relay
keeps running; SIGUSR2, SIGPIPE and the other signals whose default action would end the
process are ignored; only SIGKILL ends the relay without a drain."""

import os
import re
import signal
import subprocess
import time

import relay as R

LOGGER = "/usr/bin/logger"
SEQ_RE = re.compile(r"signals seq=(\d{4})$")
# A line counts once its newline is written: the test may read the log while a line is half out.
COUNTERS_RE = re.compile(r"\[info\] counters: (.*)\n")


def counters_lines(stderr):
    """The SIGUSR1 `counters: name=value ...` lines (not the final one), as dicts of ints."""
    return [
        {k: int(v) for k, v in re.findall(r"([a-z0-9_]+)=(\d+)", m.group(1))}
        for m in COUNTERS_RE.finditer(stderr)
    ]


def wait_counters_lines(r, n, timeout=R.WAIT_TIMEOUT):
    deadline = time.monotonic() + timeout
    while True:
        lines = counters_lines(r.stderr)
        if len(lines) >= n:
            return lines
        assert r.running(), f"relay died with {r.proc.poll()}; stderr:\n{r.stderr[-3000:]}"
        assert time.monotonic() < deadline, f"no counters line {n}; stderr:\n{r.stderr[-3000:]}"
        time.sleep(0.02)


def wait_delivered(r, output, n):
    """Polls for n delivered events, failing at once if the relay has died."""

    def done(evs):
        assert r.running(), f"relay died with {r.proc.poll()}; stderr:\n{r.stderr[-3000:]}"
        return len(evs) >= n

    return output.wait_events(done, what=f"{n} events")


def seqs(evs):
    return R.tagged_values(evs, SEQ_RE, int)


def test_sigusr1_logs_counters_and_sigusr2_is_ignored_while_logger_sends(relays, output):
    n, rounds = 1000, 4
    per_round = n // rounds
    r = relays.start(tcp=[R.free_port()])
    logger = subprocess.Popen(
        [LOGGER, "-T", "-n", "127.0.0.1", "-P", str(r.tcp[0]), "--rfc5424", "--octet-count",
         "-t", "app"],
        stdin=subprocess.PIPE,
        env=dict(os.environ, TZ="UTC"),
    )
    try:
        for k in range(rounds):
            for i in range(k * per_round, (k + 1) * per_round):
                logger.stdin.write(f"signals seq={i:04d}\n".encode())
                if i % 50 == 0:
                    logger.stdin.flush()
                    # While messages are in flight: none of these may end the relay.
                    r.send_signal(signal.SIGUSR2)
                    r.send_signal(signal.SIGPIPE)
            logger.stdin.flush()
            sent = (k + 1) * per_round
            # Delivered means received: the counters line must show at least these.
            wait_delivered(r, output, sent)
            r.send_signal(signal.SIGUSR1)
            lines = wait_counters_lines(r, k + 1)
            assert len(lines) == k + 1, lines
            assert lines[k]["messages_received"] == sent, lines[k]
            assert lines[k]["records_delivered"] >= 1, lines[k]
            assert r.running(), r.stderr[-3000:]
        logger.stdin.close()
        assert logger.wait(30) == 0
    finally:
        if logger.poll() is None:
            logger.kill()
            logger.wait()

    wait_delivered(r, output, n)
    assert r.running(), r.stderr[-3000:]
    assert r.stop(signal.SIGTERM) == 0, r.stderr[-3000:]
    got = seqs(output.events())
    assert sorted(got) == list(range(n)), f"{len(got)} events, {len(set(got))} distinct"
    final = r.counters()
    assert final["messages_received"] == n, final
    # The uploader's counts appear in every line but are added to nothing: the final line has
    # each delivered record once (no double counting after the SIGUSR1 lines).
    assert final["records_delivered"] == final["spool_writes"] > 0, final
    assert final["records_delivered"] >= counters_lines(r.stderr)[-1]["records_delivered"]
    assert len(counters_lines(r.stderr)) == rounds


def test_signals_that_would_end_the_process_are_ignored(relays, output):
    r = relays.start(udp=[R.free_port()], tcp=[R.free_port()])
    ignored = [signal.SIGUSR2, signal.SIGPIPE, signal.SIGALRM, signal.SIGVTALRM, signal.SIGPROF,
               signal.SIGIO, signal.SIGXFSZ, signal.SIGSTKFLT, signal.SIGRTMIN,
               signal.SIGRTMIN + 5, signal.SIGRTMAX]
    for sig in ignored:
        r.send_signal(sig)
    R.tcp_send(r.tcp[0], b"<13>1 2026-01-01T00:00:00Z host app - - - after the signals\n")
    wait_delivered(r, output, 1)
    for sig in ignored:
        r.send_signal(sig)
    R.udp_send(r.udp[0], [b"<13>1 2026-01-01T00:00:00Z host app - - - after the signals again"])
    wait_delivered(r, output, 2)
    assert r.running(), r.stderr[-3000:]
    assert r.stop(signal.SIGTERM) == 0, r.stderr[-3000:]


def test_sigquit_drains_like_sigterm(relays, output):
    """SIGQUIT (and SIGXCPU, SIGPWR) ask the process to stop: the relay drains and exits 0."""
    r = relays.start(tcp=[R.free_port()], flush_interval="60")
    s = R.tcp_connect(r.tcp[0])
    s.sendall(b"<13>1 2026-01-01T00:00:00Z host app - - - before SIGQUIT\n")
    s.close()
    assert r.stop(signal.SIGQUIT) == 0, r.stderr[-3000:]
    assert [e["message"] for e in output.events()] == ["<13>1 2026-01-01T00:00:00Z host app - - - before SIGQUIT"]
    assert "SIGQUIT received: draining" in r.stderr
