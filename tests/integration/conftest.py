"""Fixtures for the kinesyslog integration suite: fresh directories and relays that are always
stopped when the test ends."""

import os
import types

import pytest

import firehose_standin as F
import relay as R


@pytest.fixture(scope="session", autouse=True)
def relay_binary():
    path = R.binary()
    if not os.access(path, os.X_OK):
        pytest.exit(f"relay binary {path} not found (build it or set KINESYSLOG_BIN)", 4)
    return path


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
