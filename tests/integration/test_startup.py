"""Start-up errors and exit codes (docs/design.md "Command line"): 2 usage, 78 configuration, 77 permission."""

import os
import shutil
import socket
import tempfile
from pathlib import Path

import pytest

import relay as R

EX_USAGE, EX_NOPERM, EX_CONFIG = 2, 77, 78


def one_problem(proc, *needles):
    err = proc.stderr.decode(errors="replace")
    lines = R.problem_lines(err)
    assert len(lines) == 1, f"want one line naming the problem, got:\n{err}"
    for n in needles:
        assert n.lower() in lines[0].lower(), f"{n!r} not named in {lines[0]!r}"
    return lines[0]


def test_version():
    p = R.run_relay(["--version"])
    assert p.returncode == 0, p.stderr
    assert (p.stdout + p.stderr).strip()


@pytest.mark.parametrize(
    "extra,needle",
    [
        (["--no-such-option"], "--no-such-option"),
        (["--max-message-size", "300000"], "max-message-size"),
        (["--max-message-size", "12q"], "max-message-size"),
        (["--rfc3164-timezone", "Mars/Olympus_Mons"], "Mars/Olympus_Mons"),
        (["--flush-interval", "soon"], "flush-interval"),
        (["--compression-level", "13"], "compression-level"),
        (["--tcp-port", "70000"], "tcp-port"),
    ],
    ids=["unknown-option", "max-message-size-too-big", "size-malformed", "unknown-zone",
         "flush-interval-malformed", "compression-level-range", "port-range"],
)
def test_usage_errors_exit_2(dirs, extra, needle):
    args = R.listen_args(dirs.out, dirs.spool, tcp=[R.free_port()], extra=extra)
    p = R.run_relay(args)
    assert p.returncode == EX_USAGE, (p.returncode, p.stderr)
    one_problem(p, needle)


def test_no_listener_exit_78(dirs):
    p = R.run_relay(R.listen_args(dirs.out, dirs.spool))
    assert p.returncode == EX_CONFIG, (p.returncode, p.stderr)
    one_problem(p)
    p = R.run_relay(R.listen_args(dirs.out, dirs.spool, udp=[0], tcp=[0]))
    assert p.returncode == EX_CONFIG, (p.returncode, p.stderr)
    one_problem(p)


def test_no_destination_exit_78(dirs):
    p = R.run_relay(R.listen_args(None, dirs.spool, tcp=[R.free_port()]))
    assert p.returncode == EX_CONFIG, (p.returncode, p.stderr)
    one_problem(p)


@pytest.mark.parametrize("kind", ["tcp", "udp"])
def test_port_held_by_other_process_exit_78(dirs, kind):
    port = R.free_port()
    kind_type = socket.SOCK_STREAM if kind == "tcp" else socket.SOCK_DGRAM
    holder = socket.socket(socket.AF_INET, kind_type)
    try:
        holder.bind(("127.0.0.1", port))
        if kind == "tcp":
            holder.listen()
        p = R.run_relay(R.listen_args(dirs.out, dirs.spool, **{kind: [port]}))
        assert p.returncode == EX_CONFIG, (p.returncode, p.stderr)
        one_problem(p, str(port))
    finally:
        holder.close()


def test_port_held_by_another_relay_exit_78(relays, dirs):
    udp, tcp = R.free_port(), R.free_port()
    first = relays.start(udp=[udp], tcp=[tcp])
    for kind, port in (("tcp", tcp), ("udp", udp)):
        spool2 = dirs.root / f"spool-{kind}"
        spool2.mkdir()
        p = R.run_relay(R.listen_args(dirs.out, spool2, **{kind: [port]}))
        assert p.returncode == EX_CONFIG, (kind, p.returncode, p.stderr)
        one_problem(p, str(port))
    assert first.running()
    assert first.stop() == 0


@pytest.fixture
def shared_dir():
    """A directory nobody can traverse (tmp_path is 0700), removed afterwards."""
    d = Path(tempfile.mkdtemp(prefix="kinesyslog-itest-"))
    os.chmod(d, 0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.mark.parametrize("unwritable", ["spool", "out"])
def test_unwritable_dir_as_nobody_exit_77(shared_dir, unwritable):
    spool, out = shared_dir / "spool", shared_dir / "out"
    for d in (spool, out):
        d.mkdir()
        os.chmod(d, 0o755)  # root-owned: nobody cannot write
    writable = out if unwritable == "spool" else spool
    shutil.chown(writable, "nobody", "nogroup")
    p = R.run_relay(R.listen_args(out, spool, udp=[R.free_port()], tcp=[R.free_port()]),
                    user="nobody")
    assert p.returncode == EX_NOPERM, (p.returncode, p.stderr)
    one_problem(p, str(spool if unwritable == "spool" else out))


def test_env_options_usage_error_exit_2(dirs):
    """Values from KINESYSLOG_* are validated like the command line."""
    p = R.run_relay(R.listen_args(dirs.out, dirs.spool, tcp=[R.free_port()]),
                    env={"KINESYSLOG_MAX_MESSAGE_SIZE": "300000"})
    assert p.returncode == EX_USAGE, (p.returncode, p.stderr)
    one_problem(p)
