"""Fixtures for the kinesyslog integration suite: fresh directories and relays that are always
stopped when the test ends."""

import os
import shutil
import tempfile
import types
from pathlib import Path

import pytest

import firehose_standin as F
import relay as R


@pytest.fixture(scope="session", autouse=True)
def relay_binary():
    path = R.binary()
    if not os.access(path, os.X_OK):
        pytest.exit(f"relay binary {path} not found (build it or set KINESYSLOG_BIN)", 4)
    return path


# ---------------------------------------------------------------------------------------------
# Sanitizer builds of the relay (KINESYSLOG_BIN=build/asan/kinesyslog or build/tsan/kinesyslog)

# Markers of tests that do not run against a sanitizer build; pytest deselects them there (and
# says so), it does not skip them. Registered in pytest_configure.
MARKERS = {
    "release_only": "needs the release binary itself (the Debian package and the container "
                    "image are built from it and checked for exactly its libraries)",
    "measures_memory": "asserts the relay's resident memory, which a sanitizer's shadow memory, "
                       "quarantine and allocator multiply",
}


def excluded_markers():
    if R.SANITIZER is None:
        return []
    return ["release_only", "measures_memory"]


def pytest_configure(config):
    for name, why in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {why}")


def pytest_collection_modifyitems(config, items):
    if R.SANITIZER is None:
        return
    excluded = set(excluded_markers())
    keep, drop = [], []
    for item in items:
        (drop if excluded & {m.name for m in item.iter_markers()} else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


def pytest_report_header(config):
    if R.SANITIZER is None:
        return None
    return (f"relay: {R.binary()} built with the {R.SANITIZER} sanitizer; any report fails the "
            f"test; deselected: tests marked {', '.join(excluded_markers())}")


# Every sanitizer report of a relay the test started goes to a file of its own (log_path, with
# the process id appended) instead of scrolling by in the relay's stderr, and exitcode makes the
# relay's exit status say so too. The file fails the test: a race or a memory error is a bug even
# when the test's own assertions hold. Set for every test (a relay, a `dump` or `--help` run),
# harmless for the release build, which reads none of these variables.
SANITIZER_OPTIONS = {
    # halt_on_error: the first error ends the relay (-fno-sanitize-recover makes UBSan do the
    # same), so the report is the first cause, not a cascade.
    # verify_asan_link_order=0: two tests preload a library ahead of the ASan runtime
    # (libfaketime, and a setsockopt that refuses one option); neither replaces a function ASan
    # intercepts, and without this the runtime refuses to start.
    "ASAN_OPTIONS": "detect_leaks=1:halt_on_error=1:exitcode=86:abort_on_error=0:"
                    "verify_asan_link_order=0",
    "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1:exitcode=86",
    # TSan goes on after a report (each race once) and exits with exitcode at the end, so one run
    # shows every race it meets. second_deadlock_stack for lock-order reports.
    "TSAN_OPTIONS": f"exitcode=86:second_deadlock_stack=1:suppressions="
                    f"{R.REPO / 'tests' / 'tsan.supp'}",
}


@pytest.fixture(autouse=True)
def sanitizer_reports(monkeypatch):
    """Fails the test when a relay it started wrote a sanitizer report (release builds write
    none). The directory is outside tmp_path and open to all, so a relay run as `nobody` can
    write there too."""
    reports = Path(tempfile.mkdtemp(prefix="kinesyslog-sanitizer-"))
    reports.chmod(0o1777)
    for name, options in SANITIZER_OPTIONS.items():
        monkeypatch.setenv(name, f"{options}:log_path={reports / name.split('_')[0].lower()}")
    yield reports
    found = sorted(reports.iterdir())
    text = "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')}" for p in found)
    shutil.rmtree(reports, ignore_errors=True)
    if found:
        pytest.fail(f"sanitizer report from the relay:\n{text}", pytrace=False)


@pytest.fixture
def dirs(tmp_path):
    out = tmp_path / "out"
    spool = tmp_path / "spool"
    out.mkdir()
    spool.mkdir()
    return types.SimpleNamespace(root=tmp_path, out=out, spool=spool, logs=tmp_path / "logs")


class Relays:
    """Starts relays for one test and kills any still running at the end."""

    def __init__(self, dirs):
        self.dirs = dirs
        self.started = []

    def start(self, udp=(), tcp=(), extra=(), out=None, spool=None, env=None, user=None,
              flush_interval="0.2", wait=True, nofile=None, args=None, tls=(), gelf=False):
        if args is None:
            args = R.listen_args(
                out=self.dirs.out if out is None else out,
                spool=self.dirs.spool if spool is None else spool,
                udp=udp, tcp=tcp, flush_interval=flush_interval, extra=extra, tls=tls,
                gelf=gelf,
            )
        r = R.Relay(args, self.dirs.logs, env=env, user=user, nofile=nofile)
        r.udp, r.tcp, r.tls = list(udp), list(tcp), list(tls)
        self.started.append(r)
        if wait:
            r.wait_ready()
        return r

    def cleanup(self):
        for r in self.started:
            if r.running():
                r.kill()


@pytest.fixture
def relays(dirs):
    rs = Relays(dirs)
    yield rs
    rs.cleanup()


@pytest.fixture
def output(dirs):
    return R.Output(dirs.out)


@pytest.fixture
def relay(relays):
    """A relay on one free UDP port and one free TCP port, delivering every 0.2 s."""
    return relays.start(udp=[R.free_port()], tcp=[R.free_port()])


@pytest.fixture
def pki(tmp_path):
    """A private CA (openssl CLI) with a server certificate for localhost/127.0.0.1:
    `pki.server_cert`, `pki.server_key`."""
    ca = R.Pki(tmp_path / "pki")
    ca.server_cert, ca.server_key, ca.server_serial = ca.server()
    return ca


# ---------------------------------------------------------------------------------------------
# AWS stand-ins


@pytest.fixture
def aws_clean_env(monkeypatch, tmp_path):
    """No AWS_* or proxy variable from the machine reaches boto3 or the relay (relay_env copies
    os.environ), and neither reads the machine's ~/.aws."""
    for name in list(os.environ):
        if name.startswith("AWS_") or name.lower() in (
            "http_proxy", "https_proxy", "all_proxy", "no_proxy"
        ):
            monkeypatch.delenv(name, raising=False)
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(home / "no-such-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(home / "no-such-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    return home


@pytest.fixture
def firehose(aws_clean_env):
    """A running Firehose/STS/IMDS/ECS stand-in (firehose_standin.py) with the ACTIVE stream
    `kinesyslog-test` and one long-term key (`firehose.default_key`)."""
    standin = F.FirehoseStandIn(seed=1234).start()
    yield standin
    standin.stop()
