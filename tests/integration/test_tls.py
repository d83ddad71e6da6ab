"""TLS listeners (RFC 5425) against real clients: `openssl s_client` and syslog-ng.

Certificates are made per test with the openssl CLI (relay.Pki): a CA, a server certificate
for localhost/127.0.0.1, client certificates with DNS SANs, one from another CA, a revoked one
with its CRL. Rejections are checked by what did not arrive, by the relay's `final counters:`
line, and by a good client still being served afterwards.
"""

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import pytest

import relay as R

EX_NOPERM, EX_CONFIG = 77, 78


def tls_args(pki, *extra):
    return ["--cert", str(pki.server_cert), "--key", str(pki.server_key), *map(str, extra)]


def marker():
    return uuid.uuid4().hex[:12]


def rfc5424(text):
    """One RFC 5424 message (with a timestamp, so the relay keeps it as sent)."""
    return f"<14>1 2024-05-01T12:00:00.000Z host app - - - {text}".encode()


def messages_with(output, needle):
    return [e for e in output.events() if needle in e["message"]]


def wait_for(output, needle, n=1):
    return output.wait_count(n, lambda e: needle in e["message"])


def send_good(port, pki, cert=None, key=None, extra=()):
    """A message from a client that must be served; returns its marker once it arrived."""
    tag = marker()
    p = R.s_client(port, R.octet(rfc5424(f"good {tag}")), ca=pki.ca, cert=cert, key=key,
                   extra=extra)
    assert p.returncode == 0, p.stderr.decode(errors="replace")
    return tag


def test_s_client_octet_counted_and_mixed_framing(relays, pki, output):
    port = R.free_port()
    r = relays.start(tls=[port], extra=tls_args(pki))
    assert f"tls 127.0.0.1:{port}" in r.stderr
    tag = marker()
    # RFC 5425 §4.3 octet counting, then the other RFC 6587 framings the TCP port takes.
    data = (R.octet(rfc5424(f"{tag} one")) + R.octet(rfc5424(f"{tag} two\nwith LF inside"))
            + rfc5424(f"{tag} three").replace(b"\n", b"") + b"\n"
            + rfc5424(f"{tag} four") + b"\0")
    p = R.s_client(port, data, ca=pki.ca, extra=["-verify_hostname", "localhost"])
    assert p.returncode == 0, p.stderr.decode(errors="replace")
    evs = wait_for(output, tag, 4)
    got = sorted(e["message"] for e in evs if tag in e["message"])
    assert got == sorted(rfc5424(f"{tag} {w}").decode() for w in
                         ["one", "two\nwith LF inside", "three", "four"])
    assert {e["stream"] for e in evs} == {"127.0.0.1"}
    assert {e["group"] for e in evs} == {"syslog_message"}
    assert r.stop() == 0
    c = r.counters()
    assert c["tls_handshakes"] == 1
    assert c["messages_received"] == 4
    assert c["tls_handshake_failures"] == 0 and c["tls_clients_rejected"] == 0


def test_many_messages_over_one_tls_connection(relays, pki, output):
    """More bytes than one read buffer and many TLS records: each message once, in order."""
    port = R.free_port()
    r = relays.start(tls=[port], extra=tls_args(pki))
    tag = marker()
    n = 20000
    data = b"".join(R.octet(rfc5424(f"{tag} {i:06d} " + "x" * 100)) for i in range(n))
    p = R.s_client(port, data, ca=pki.ca, timeout=120)
    assert p.returncode == 0, p.stderr.decode(errors="replace")
    evs = [e for e in wait_for(output, tag, n) if tag in e["message"]]
    assert r.stop() == 0
    seqs = [int(e["message"].split(tag + " ")[1][:6]) for e in messages_with(output, tag)]
    assert sorted(seqs) == list(range(n))
    assert len(evs) >= n
    assert r.counters()["messages_received"] == n


def test_tls12_with_default_ciphers_and_refused_old_ones(relays, pki, output):
    port = R.free_port()
    r = relays.start(tls=[port], extra=tls_args(pki))
    tag = send_good(port, pki, extra=["-tls1_2"])
    wait_for(output, tag)
    # Not ECDHE + AEAD: refused by the default TLS 1.2 cipher list.
    bad = marker()
    R.s_client(port, R.octet(rfc5424(f"bad {bad}")), ca=pki.ca,
               extra=["-tls1_2", "-cipher", "AES128-SHA"])
    # TLS 1.1 is below the minimum.
    R.s_client(port, R.octet(rfc5424(f"bad {bad}")), ca=pki.ca,
               extra=["-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0"])
    wait_for(output, send_good(port, pki))
    assert r.stop() == 0
    assert not messages_with(output, bad)
    c = r.counters()
    assert c["tls_handshake_failures"] == 2
    assert c["tls_handshakes"] == 2


def test_tls_min_version_13(relays, pki, output):
    port = R.free_port()
    r = relays.start(tls=[port], extra=tls_args(pki, "--tls-min-version", "1.3"))
    bad = marker()
    R.s_client(port, R.octet(rfc5424(f"bad {bad}")), ca=pki.ca, extra=["-tls1_2"])
    wait_for(output, send_good(port, pki, extra=["-tls1_3"]))
    assert r.stop() == 0
    assert not messages_with(output, bad)
    assert r.counters()["tls_handshake_failures"] == 1


def syslog_ng_config(tmp, port, pki, lines, cert=None, key=None):
    """A syslog-ng client: a file source of `lines`, an RFC 5425 destination (syslog() driver:
    RFC 5424 messages, octet-counted, over TLS) to the relay."""
    tmp.mkdir(parents=True, exist_ok=True)
    source = tmp / "in.log"
    source.write_text("".join(line + "\n" for line in lines))
    client = ""
    if cert is not None:
        client = f' cert-file("{cert}") key-file("{key}")'
    conf = tmp / "syslog-ng.conf"
    conf.write_text(
        "@version: 3.38\n"
        "options { stats-freq(0); };\n"
        f'source s_in {{ file("{source}" follow-freq(0.1) flags(no-parse)); }};\n'
        "destination d_relay {\n"
        f'  syslog("127.0.0.1" port({port}) transport("tls")\n'
        f'         tls(ca-file("{pki.ca}") peer-verify(required-trusted){client}));\n'
        "};\n"
        "log { source(s_in); destination(d_relay); };\n"
    )
    return conf


def run_syslog_ng(tmp, conf):
    return subprocess.Popen(
        ["syslog-ng", "-F", "--no-caps", "-f", str(conf), "-R", str(tmp / "persist"),
         "-p", str(tmp / "pid"), "-c", str(tmp / "ctl")],
        stdin=subprocess.DEVNULL, stdout=open(tmp / "syslog-ng.out", "wb"),
        stderr=subprocess.STDOUT,
    )


def stop_process(proc):
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.mark.parametrize("mutual", [False, True], ids=["server-cert", "mutual"])
def test_syslog_ng_rfc5425_client(relays, pki, output, tmp_path, mutual):
    port = R.free_port()
    extra = tls_args(pki)
    cert = key = None
    if mutual:
        extra += ["--ca", str(pki.ca), "--allowed-peer", "*.clients.example"]
        cert, key, _ = pki.issue("sng-client", dns=["sng.clients.example"])
    r = relays.start(tls=[port], extra=extra)
    tag = marker()
    lines = [f"{tag} syslog-ng line {i}" for i in range(50)]
    ng = run_syslog_ng(tmp_path / "ng", syslog_ng_config(tmp_path / "ng", port, pki, lines,
                                                         cert, key))
    try:
        evs = wait_for(output, tag, len(lines))
    finally:
        stop_process(ng)
    got = [e for e in evs if tag in e["message"]]
    assert sorted(e["message"].split("] ", 1)[-1] for e in got) == sorted(lines)
    for e in got:
        assert e["message"].startswith("<13>1 "), e["message"]  # RFC 5424 as syslog-ng sent it
        assert e["stream"] == "127.0.0.1"
    assert r.stop() == 0
    c = r.counters()
    assert c["tls_handshakes"] >= 1
    assert c["tls_clients_rejected"] == 0
    assert c["messages_received"] == len(lines)


# ---------------------------------------------------------------------------------------------
# Mutual TLS


@pytest.fixture
def clients(pki, tmp_path):
    """Client certificates: good ones of the relay's CA, one of another CA, a revoked one."""
    c = type("Clients", (), {})()
    c.good = pki.issue("good", dns=["app1.clients.example"])
    c.exact = pki.issue("exact", dns=["exact.example"])
    c.deeper = pki.issue("deeper", dns=["a.app1.clients.example"])
    c.other_name = pki.issue("other-name", dns=["app1.elsewhere.example"])
    c.cn_only = pki.issue("cn-only", cn="cnonly.clients.example")
    c.revoked = pki.issue("revoked", dns=["revoked.clients.example"])
    pki.revoke(c.revoked[0])
    c.crl = pki.crl()
    other = R.Pki(tmp_path / "other-pki", name="Other CA")
    c.untrusted = other.issue("untrusted", dns=["app1.clients.example"])
    return c


def rejected_attempt(port, pki, cert=None, key=None):
    """A client the relay must refuse: its message must never arrive."""
    tag = marker()
    R.s_client(port, R.octet(rfc5424(f"rejected {tag}")), ca=pki.ca, cert=cert, key=key)
    return tag


def test_mutual_tls_required_with_crl(relays, pki, clients, output):
    port = R.free_port()
    # --ca alone: client certificates are required.
    r = relays.start(tls=[port], extra=tls_args(pki, "--ca", pki.ca, "--crl", clients.crl))
    good_cert, good_key, _ = clients.good
    wait_for(output, send_good(port, pki, good_cert, good_key))

    refused = []
    expected = {
        "tls_rejected_no_certificate": (None, None),
        "tls_rejected_untrusted": clients.untrusted[:2],
        "tls_rejected_revoked": clients.revoked[:2],
    }
    for counter, (cert, key) in expected.items():
        refused.append(rejected_attempt(port, pki, cert, key))
        # The relay still serves a good client after each rejection.
        wait_for(output, send_good(port, pki, good_cert, good_key))
    assert r.stop() == 0
    for tag in refused:
        assert not messages_with(output, tag), tag
    c = r.counters()
    for counter in expected:
        assert c[counter] == 1, (counter, c)
    assert c["tls_clients_rejected"] == 3
    assert c["tls_rejected_peer_name"] == 0
    assert c["tls_handshakes"] == 4
    log = r.stderr
    assert "TLS client rejected: 127.0.0.1" in log


def test_verify_client_optional(relays, pki, clients, output):
    port = R.free_port()
    r = relays.start(tls=[port], extra=tls_args(pki, "--ca", pki.ca, "--verify-client",
                                                "optional"))
    wait_for(output, send_good(port, pki))  # no certificate: served
    good_cert, good_key, _ = clients.good
    wait_for(output, send_good(port, pki, good_cert, good_key))
    tag = rejected_attempt(port, pki, *clients.untrusted[:2])  # a bad one is still refused
    wait_for(output, send_good(port, pki))
    assert r.stop() == 0
    assert not messages_with(output, tag)
    assert r.counters()["tls_rejected_untrusted"] == 1


def test_allowed_peer(relays, pki, clients, output):
    port = R.free_port()
    r = relays.start(tls=[port], extra=tls_args(
        pki, "--ca", pki.ca, "--allowed-peer", "*.clients.example", "--allowed-peer",
        "EXACT.example"))
    # One label under *.clients.example, an exact name (case-insensitive), and a CN when the
    # certificate has no DNS SAN.
    for cert, key, _ in (clients.good, clients.exact, clients.cn_only):
        wait_for(output, send_good(port, pki, cert, key))
    refused = []
    for cert, key, _ in (clients.deeper, clients.other_name):
        refused.append(rejected_attempt(port, pki, cert, key))
        wait_for(output, send_good(port, pki, *clients.good[:2]))
    refused.append(rejected_attempt(port, pki))  # --allowed-peer needs a certificate
    wait_for(output, send_good(port, pki, *clients.good[:2]))
    assert r.stop() == 0
    for tag in refused:
        assert not messages_with(output, tag), tag
    c = r.counters()
    assert c["tls_rejected_peer_name"] == 2, c
    assert c["tls_rejected_no_certificate"] == 1, c
    assert c["tls_clients_rejected"] == 3
    assert "a.app1.clients.example" in r.stderr  # the refused name is logged


# ---------------------------------------------------------------------------------------------
# Start-up errors


def one_problem(proc, *needles):
    err = proc.stderr.decode(errors="replace")
    lines = R.problem_lines(err)
    assert len(lines) == 1, f"want one line naming the problem, got:\n{err}"
    for n in needles:
        assert n.lower() in lines[0].lower(), f"{n!r} not named in {lines[0]!r}"
    return lines[0]


def test_encrypted_key_refused(dirs, pki):
    cert, key, _ = pki.issue("enc-server", dns=["localhost"], client=False, key_pass="secret")
    args = R.listen_args(dirs.out, dirs.spool, tls=[R.free_port()],
                         extra=["--cert", cert, "--key", key])
    p = subprocess.run([R.binary()] + [str(a) for a in args], env=R.relay_env(),
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=20)
    assert p.returncode == EX_CONFIG, (p.returncode, p.stderr)
    one_problem(p, "--key", "encrypted")


@pytest.mark.parametrize("problem", ["bad-cert", "missing-key", "mismatched-key", "bad-ca",
                                     "bad-crl", "verify-without-ca", "tls-port-without-cert"])
def test_bad_tls_configuration_exit_78(dirs, pki, tmp_path, problem):
    cert, key = pki.server_cert, pki.server_key
    extra = []
    if problem == "bad-cert":
        cert = tmp_path / "bad.pem"
        cert.write_text("-----BEGIN CERTIFICATE-----\nnot base64 at all!\n"
                        "-----END CERTIFICATE-----\n")
    elif problem == "missing-key":
        key = tmp_path / "no-such.key"
    elif problem == "mismatched-key":
        key = pki.issue("someone-else")[1]
    elif problem == "bad-ca":
        bad = tmp_path / "bad-ca.pem"
        bad.write_text("garbage\n")
        extra = ["--ca", bad]
    elif problem == "bad-crl":
        other = R.Pki(tmp_path / "other", name="Other CA")
        extra = ["--ca", pki.ca, "--crl", other.crl()]
    elif problem == "verify-without-ca":
        extra = ["--verify-client", "required"]
    args = ["--cert", cert, "--key", key] + extra
    if problem == "tls-port-without-cert":
        args = []
    p = R.run_relay(R.listen_args(dirs.out, dirs.spool, tls=[R.free_port()],
                                  extra=[str(a) for a in args]))
    assert p.returncode == EX_CONFIG, (p.returncode, p.stderr)
    needle = {"bad-cert": "--cert", "missing-key": "--key", "mismatched-key": "does not match",
              "bad-ca": "--ca", "bad-crl": "--crl", "verify-without-ca": "--verify-client",
              "tls-port-without-cert": "--cert"}[problem]
    one_problem(p, needle)


def test_unreadable_key_as_nobody_exit_77(pki):
    d = Path(tempfile.mkdtemp(prefix="kinesyslog-itest-"))
    try:
        os.chmod(d, 0o755)
        spool, out = d / "spool", d / "out"
        for sub in (spool, out):
            sub.mkdir()
            shutil.chown(sub, "nobody", "nogroup")
        cert, key = d / "server.pem", d / "server.key"
        shutil.copy(pki.server_cert, cert)
        shutil.copy(pki.server_key, key)
        os.chmod(cert, 0o644)
        os.chmod(key, 0o600)  # root's
        p = R.run_relay(R.listen_args(out, spool, tls=[R.free_port()],
                                      extra=["--cert", str(cert), "--key", str(key)]),
                        user="nobody")
        assert p.returncode == EX_NOPERM, (p.returncode, p.stderr)
        one_problem(p, "--key", str(key))
    finally:
        shutil.rmtree(d, ignore_errors=True)


# ---------------------------------------------------------------------------------------------
# Clients that do not speak TLS, or never finish


def test_plain_tcp_and_silent_client_on_tls_port(relays, pki, output):
    port = R.free_port()
    r = relays.start(tls=[port], extra=tls_args(pki, "--tls-handshake-timeout", "1"))
    plain_tag = marker()
    silent = R.tcp_connect(port)  # connects and never sends a ClientHello
    plain = R.tcp_send(port, f"<13>plain syslog {plain_tag}\n".encode(), close=False)
    # Meanwhile a TLS client is served.
    wait_for(output, send_good(port, pki))
    # Both are closed by the relay: plain text fails the handshake at once, the silent one at
    # the handshake timeout. Neither delivers anything.
    R.read_until_closed(plain)
    R.read_until_closed(silent)
    plain.close()
    silent.close()
    wait_for(output, send_good(port, pki))
    assert r.stop() == 0
    assert not messages_with(output, plain_tag)
    c = r.counters()
    assert c["tls_handshake_timeouts"] == 1, c
    assert c["tls_handshake_failures"] == 1, c
    assert c["tls_handshakes"] == 2
    assert "TLS handshake timed out: 127.0.0.1" in r.stderr
    assert "TLS handshake failed: 127.0.0.1" in r.stderr


def test_port_probe_is_counted_not_logged(relays, pki, output):
    port = R.free_port()
    r = relays.start(tls=[port], extra=tls_args(pki))
    for _ in range(3):
        socket.create_connection(("127.0.0.1", port), timeout=10).close()
    wait_for(output, send_good(port, pki))
    assert r.stop() == 0
    c = r.counters()
    assert c["tls_handshakes_abandoned"] == 3, c
    assert c["tls_handshake_failures"] == 0
    assert "TLS handshake failed" not in r.stderr


# ---------------------------------------------------------------------------------------------
# SIGHUP rotation


def replace_file(src, dst):
    """Rotate as a deployment tool does: write beside, then rename over."""
    tmp = Path(str(dst) + ".new")
    shutil.copy(src, tmp)
    os.replace(tmp, dst)


def wait_log(relay, needle, count=1, timeout=R.WAIT_TIMEOUT):
    deadline = time.monotonic() + timeout
    while relay.stderr.count(needle) < count:
        assert time.monotonic() < deadline, f"{needle!r} not logged:\n{relay.stderr}"
        time.sleep(0.05)


def test_sighup_reloads_certificate_keeps_open_connections(relays, pki, output, tmp_path):
    live = tmp_path / "live"
    live.mkdir()
    cert, key = live / "server.pem", live / "server.key"
    shutil.copy(pki.server_cert, cert)
    shutil.copy(pki.server_key, key)
    new_cert, new_key, new_serial = pki.server("server-new", serial=0xB2B2)
    port = R.free_port()
    r = relays.start(tls=[port], extra=["--cert", cert, "--key", key])
    assert int(R.served_certificate(port, pki.ca)["serialNumber"], 16) == pki.server_serial

    tag = marker()
    old = subprocess.Popen(R.s_client_args(port, ca=pki.ca), stdin=subprocess.PIPE,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        old.stdin.write(R.octet(rfc5424(f"{tag} before reload")))
        old.stdin.flush()
        wait_for(output, f"{tag} before reload")

        replace_file(new_cert, cert)
        replace_file(new_key, key)
        r.send_signal(signal.SIGHUP)
        wait_log(r, "TLS certificate, key, CA and CRL reloaded")
        # New connections get the new certificate...
        assert int(R.served_certificate(port, pki.ca)["serialNumber"], 16) == new_serial
        # ...while the connection opened before the reload keeps sending.
        old.stdin.write(R.octet(rfc5424(f"{tag} after reload")))
        old.stdin.flush()
        wait_for(output, f"{tag} after reload")

        # A broken key at the next SIGHUP: the current certificate stays, the reason is logged.
        key.write_text("-----BEGIN PRIVATE KEY-----\ntruncated\n")
        r.send_signal(signal.SIGHUP)
        wait_log(r, "TLS reload failed, keeping the current certificate")
        assert int(R.served_certificate(port, pki.ca)["serialNumber"], 16) == new_serial
        wait_for(output, send_good(port, pki))
        old.stdin.write(R.octet(rfc5424(f"{tag} after failed reload")))
        old.stdin.flush()
        wait_for(output, f"{tag} after failed reload")
        old.stdin.close()
        assert old.wait(30) == 0, old.stderr.read().decode(errors="replace")
    finally:
        if old.poll() is None:
            old.kill()
            old.wait()
    assert r.running()
    assert r.stop() == 0
    failed = [line for line in r.stderr.splitlines() if "TLS reload failed" in line]
    assert len(failed) == 1 and "--key" in failed[0], failed
    c = r.counters()
    assert c["tls_reloads"] == 1 and c["tls_reload_failures"] == 1, c
    assert c["tcp_connection_errors"] == 0
    assert len(messages_with(output, tag)) == 3


def test_sighup_reloads_crl(relays, pki, clients, output, tmp_path):
    """A certificate revoked after start is refused to new connections once SIGHUP reloads the
    CRL."""
    crl = tmp_path / "live.crl"
    shutil.copy(pki.crl("before.crl"), crl)
    port = R.free_port()
    r = relays.start(tls=[port], extra=tls_args(pki, "--ca", pki.ca, "--crl", crl))
    late_cert, late_key, _ = pki.issue("late", dns=["late.clients.example"])
    wait_for(output, send_good(port, pki, late_cert, late_key))
    pki.revoke(late_cert)
    replace_file(pki.crl("after.crl"), crl)
    r.send_signal(signal.SIGHUP)
    wait_log(r, "TLS certificate, key, CA and CRL reloaded")
    tag = rejected_attempt(port, pki, late_cert, late_key)
    wait_for(output, send_good(port, pki, *clients.good[:2]))
    assert r.stop() == 0
    assert not messages_with(output, tag)
    c = r.counters()
    # The revoked fixture client is in both CRLs but never connects here.
    assert c["tls_rejected_revoked"] == 1, c


# ---------------------------------------------------------------------------------------------
# PROXY protocol before TLS (docs/design.md "Inputs": the header comes first, as AWS NLB sends it)


@pytest.mark.parametrize("send_proxy", ["send-proxy-v2", "send-proxy"])
def test_proxy_protocol_header_then_tls(relays, pki, clients, output, dirs, send_proxy):
    port = R.free_port()
    r = relays.start(tls=[port], extra=tls_args(pki, "--ca", pki.ca, "--allowed-peer",
                                                "*.clients.example", "--proxy-protocol", port))
    assert f"tls 127.0.0.1:{port} (PROXY protocol)" in r.stderr
    # haproxy in TCP mode: its connection to the relay comes from 127.0.0.9, the TLS session
    # inside is s_client's, from 127.0.0.1, which only the PROXY header tells.
    h = R.Haproxy(dirs.logs, port=R.free_port(), server_port=port, send_proxy=send_proxy,
                  source="127.0.0.9")
    try:
        tag = marker()
        data = (R.octet(rfc5424(f"{tag} through haproxy"))
                + R.octet(f"<13>{tag} without a timestamp".encode()))
        p = R.s_client(h.port, data, ca=pki.ca, cert=clients.good[0], key=clients.good[1])
        assert p.returncode == 0, p.stderr.decode(errors="replace")
        evs = [e for e in wait_for(output, tag, 2) if tag in e["message"]]
        # A certificate refused after the header: the handshake follows the header.
        refused = rejected_attempt(h.port, pki, *clients.other_name[:2])
        wait_for(output, send_good(h.port, pki, *clients.good[:2]))
    finally:
        h.stop()
    # A TLS client that skips the proxy sends no header: refused.
    skipped = rejected_attempt(port, pki, *clients.good[:2])
    assert r.stop() == 0
    assert {e["stream"] for e in evs} == {"127.0.0.1"}, evs
    [untimed] = [e for e in evs if "without a timestamp" in e["message"]]
    m = R.REWRITE_RE.match(untimed["message"])
    assert m and m["source"] == "127.0.0.1", untimed["message"]
    assert not messages_with(output, refused) and not messages_with(output, skipped)
    assert "127.0.0.9" not in {e["stream"] for e in output.events()}
    c = r.counters()
    assert c["proxy_headers_accepted"] == 3, c
    assert c["proxy_headers_rejected"] == 1, c
    assert c["tls_handshakes"] == 2, c
    assert c["tls_rejected_peer_name"] == 1, c
