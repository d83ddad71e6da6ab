"""Several relays behind a real load balancer (docs/operations.md, "Scaling: several relays"):
haproxy in TCP mode, round robin with `send-proxy-v2` and health checks (PROXY v2 LOCAL), in
front of three relays, each with its own spool, all delivering to one Firehose stand-in;
UDP is spread by the senders over the relays' own ports. 300,000 messages from 30 TCP senders
(each its own loopback address, so its own logStream) over many connections and 6 UDP senders.
One relay is SIGKILLed while messages flow and restarted on its spool.

What "accepted" means here. Syslog has no acknowledgement, so a message counts as accepted once
a relay has read it: the relay's journal then carries it across the kill. Bytes haproxy had
taken but not yet forwarded, and bytes in the dead relay's socket buffers, were read by no one;
they are lost with the connection, and the sender sees its connection closed. So the test
asserts, per connection (TCP is in order, and so is one sender's UDP on loopback):
- a connection that stayed open delivered every message it carried, each exactly once;
- a connection the kill broke delivered a gap-free prefix of what was written to it (what the
  killed relay had read), and every message of it that was confirmed read before the kill
  phase (the senders waited for the relays' `messages_received` to cover it) is among them;
- together, the killed relay's connections and UDP delivered at least as many messages as its
  `messages_received` counter showed just before the SIGKILL;
- every message carries the logStream of its sender (the PROXY source, not haproxy's address);
- a message delivered twice is one spooled record sent again (same event id: a lost response,
  or the kill between Firehose's answer and the spool file's deletion), never a re-encoding.
Takes 17 to 25 s on the 2-core test machine."""

import collections
import re
import signal
import socket
import threading
import time

import relay as R

TCP_SENDERS = 30
UDP_SENDERS = 6
RELAYS = 3
KILLED = 1
# Messages per sender in each of the three phases: before the kill (confirmed read), while the
# relay is killed and restarted, after the restart (on new connections).
TCP_PHASE = 3000
UDP_PHASE = (1500, 1500, 2000)
TOTAL = TCP_SENDERS * TCP_PHASE * 3 + UDP_SENDERS * sum(UDP_PHASE)
BATCH = 50
UDP_RATE = 300
TAG_RE = re.compile(r" snd=(\S+) seq=(\d+) ")
PAD = "x" * 40


def message(sender, seq):
    return f"<13>1 2026-12-03T00:00:00.000Z host app - - - snd={sender} seq={seq:07d} {PAD}"


def tcp_address(i):
    return f"127.0.1.{i + 1}"


def udp_address(i):
    return f"127.0.2.{i + 1}"


class Flow:
    """The messages one TCP connection (or one UDP sender's stretch to one relay) carried."""

    def __init__(self, sender, kind):
        self.sender, self.kind = sender, kind
        self.seqs = []
        self.broken = False  # the far end closed it (the relay behind it died)
        self.confirmed = 0  # the first `confirmed` seqs were read by a relay before the kill


class TcpSender:
    """One client address; sends its phase over its current connection through haproxy, and
    opens a new connection when the old one breaks (as rsyslog does), without resending."""

    def __init__(self, index, lb_port):
        self.address = tcp_address(index)
        self.lb_port = lb_port
        self.flows = []
        self.sock = None
        self.next_seq = 0

    def connect(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind((self.address, 0))
        self.sock.connect(("127.0.0.1", self.lb_port))
        self.flows.append(Flow(self.address, "tcp"))

    def peer_closed(self):
        """True when haproxy has closed this connection (EOF or reset) while we kept it."""
        self.sock.setblocking(False)
        try:
            return self.sock.recv(1) == b""
        except BlockingIOError:
            return False
        except OSError:
            return True
        finally:
            self.sock.setblocking(True)

    def close(self):
        if self.sock is not None:
            if self.peer_closed():
                self.flows[-1].broken = True
            self.sock.close()
            self.sock = None

    def send_phase(self, count, per_second):
        start = time.monotonic()
        sent = 0
        while sent < count:
            n = min(BATCH, count - sent)
            seqs = list(range(self.next_seq, self.next_seq + n))
            data = "".join(message(self.address, s) + "\n" for s in seqs).encode()
            if self.sock is None or self.peer_closed():
                self.close()
                self.connect()
            flow = self.flows[-1]
            try:
                self.sock.sendall(data)
            except OSError:
                # Broken under us: what this write carried may or may not have gone out.
                flow.seqs.extend(seqs)
                flow.broken = True
                self.sock.close()
                self.sock = None
            else:
                flow.seqs.extend(seqs)
            self.next_seq += n
            sent += n
            delay = start + sent / per_second - time.monotonic()
            if delay > 0:
                time.sleep(delay)


class UdpSender:
    """One client address sending to one relay's UDP port. Its flows are split where the test
    kills and restarts that relay: `stage` is read before each datagram."""

    def __init__(self, index, port, stage):
        self.address = udp_address(index)
        self.port = port
        self.stage = stage
        self.sock = R.udp_socket(self.address)
        self.flows = {}
        self.next_seq = 0

    def send_phase(self, count, per_second):
        start = time.monotonic()
        for k in range(count):
            stage = self.stage[0]
            flow = self.flows.setdefault(stage, Flow(self.address, f"udp-{stage}"))
            seq = self.next_seq
            self.sock.sendto(message(self.address, seq).encode(), ("127.0.0.1", self.port))
            flow.seqs.append(seq)
            self.next_seq += 1
            delay = start + (k + 1) / per_second - time.monotonic()
            if delay > 0.002:
                time.sleep(delay)


def run_all(tcp, udp, tcp_count, udp_count, tcp_rate):
    """Every sender sends its phase at once, in its own thread; TCP at `tcp_rate` messages/s
    each, UDP at UDP_RATE (gentle enough that a relay stalled by a busy machine for a few
    hundred ms does not overflow a default-sized socket buffer)."""
    errors = []

    def guarded(sender, count, rate):
        try:
            sender.send_phase(count, rate)
        except Exception as e:  # noqa: BLE001 - reported to the test thread by join()
            errors.append(e)

    jobs = [(s, tcp_count, tcp_rate) for s in tcp] + [(s, udp_count, UDP_RATE) for s in udp]
    threads = [threading.Thread(target=guarded, args=job) for job in jobs]
    for t in threads:
        t.start()
    return threads, errors


def join(threads, errors):
    for t in threads:
        t.join(120)
        assert not t.is_alive(), "a sender hung"
    assert not errors, errors


def wait_received(relays, want, timeout=R.WAIT_TIMEOUT):
    deadline = time.monotonic() + timeout
    while True:
        counters = [r.counters_now() for r in relays]
        got = sum(c["messages_received"] for c in counters)
        if got >= want:
            break
        dropped = sum(c["udp_kernel_dropped"] for c in counters)
        assert time.monotonic() < deadline, (
            f"relays read {got} of {want} messages ({dropped} datagrams dropped by the kernel)")
        time.sleep(0.2)
    assert got == want, f"relays read {got} messages, {want} were sent"


def test_three_relays_behind_haproxy_one_killed(firehose, relays, dirs):
    tcp_ports = [R.free_port(udp=False) for _ in range(RELAYS)]
    udp_ports = [R.free_port(tcp=False) for _ in range(RELAYS)]
    home = dirs.root / "relay-home"

    def start(i):
        spool = dirs.root / f"spool-{i}"
        spool.mkdir(exist_ok=True)
        args = R.listen_args(
            out=None, spool=spool, udp=[udp_ports[i]], tcp=[tcp_ports[i]], flush_interval="0.5",
            extra=firehose.relay_args() + [
                "--proxy-protocol", str(tcp_ports[i]), "--proxy-trusted", "127.0.0.9",
                "--group-prefix", "fanout", "--workers", "2"])
        return relays.start(args=args, env=firehose.relay_env(home))

    fleet = [start(i) for i in range(RELAYS)]
    lb = R.Haproxy(dirs.logs, port=R.free_port(udp=False), server_ports=tcp_ports,
                   send_proxy="send-proxy-v2", check="check inter 200ms", maxconn=500)
    stage = ["before"]
    tcp = [TcpSender(i, lb.port) for i in range(TCP_SENDERS)]
    udp = [UdpSender(i, udp_ports[i % RELAYS], stage) for i in range(UDP_SENDERS)]
    try:
        # Phase 1: then wait until the relays have read every message (the accepted set).
        join(*run_all(tcp, udp, TCP_PHASE, UDP_PHASE[0], tcp_rate=800))
        phase1 = TCP_SENDERS * TCP_PHASE + UDP_SENDERS * UDP_PHASE[0]
        wait_received(fleet, phase1)
        for s in tcp:
            s.flows[-1].confirmed = len(s.flows[-1].seqs)
        for s in udp:
            s.flows["before"].confirmed = len(s.flows["before"].seqs)
        # Two responses lost while delivering: their records are sent again.
        firehose.lose_next(2)

        # Phase 2: the relay is killed while messages flow, and restarted on its spool.
        threads, errors = run_all(tcp, udp, TCP_PHASE, UDP_PHASE[1], tcp_rate=500)
        time.sleep(2)
        read_at_kill = fleet[KILLED].counters_now()["messages_received"]
        fleet[KILLED].kill()
        stage[0] = "down"
        time.sleep(0.5)
        fleet[KILLED] = start(KILLED)
        stage[0] = "after"
        join(threads, errors)

        # Phase 3: every TCP sender on a new connection, spread over all three relays again.
        for s in tcp:
            s.close()
        join(*run_all(tcp, udp, TCP_PHASE, UDP_PHASE[2], tcp_rate=800))
        for s in tcp:
            s.close()
        for s in udp:
            s.sock.close()
        # SIGTERM: each relay drains, spools and delivers, then exits 0.
        for r in fleet:
            r.send_signal(signal.SIGTERM)
        for r in fleet:
            assert r.wait() == 0, r.stderr[-3000:]
    finally:
        lb.stop()

    replayed = fleet[KILLED].counters()["journal_replayed_messages"]
    for i in range(RELAYS):
        spool = dirs.root / f"spool-{i}"
        assert not list(spool.glob("kinesyslog-*")), f"relay {i} left its spool undelivered"

    # What was delivered: (sender, seq) -> the ids of its copies, and the relay port it came by.
    copies = collections.defaultdict(list)
    group_of = {}
    for ev in firehose.events():
        m = TAG_RE.search(ev["message"])
        assert m, ev["message"][:200]
        key = (m[1], int(m[2]))
        assert ev["stream"] == m[1], f"{key}: logStream {ev['stream']}"
        copies[key].append(ev["id"])
        group_of[key] = ev["group"]
    resent = {k: ids for k, ids in copies.items() if len(ids) > 1}
    assert all(len(set(ids)) == 1 for ids in resent.values()), (
        "a message was delivered twice as different events: "
        f"{[(k, ids) for k, ids in resent.items() if len(set(ids)) > 1][:5]}")

    flows = [f for s in tcp for f in s.flows] + [f for s in udp for f in s.flows.values()]
    sent = sum(len(f.seqs) for f in flows)
    assert sent == TOTAL
    stray = set(copies) - {(f.sender, q) for f in flows for q in f.seqs}
    assert not stray, f"delivered but never sent: {sorted(stray)[:5]}"
    killed_groups = {f"fanout/syslog/{tcp_ports[KILLED]}", f"fanout/syslog/{udp_ports[KILLED]}"}
    killed_udp = {udp_address(i) for i in range(KILLED, UDP_SENDERS, RELAYS)}
    broken = [f for f in flows if f.broken]
    assert broken, "the kill broke no connection"
    lost = 0
    from_killed = 0
    for f in flows:
        got = [(f.sender, q) in copies for q in f.seqs]
        n = sum(got)
        if f.broken or (f.kind == "udp-before" and f.sender in killed_udp):
            # The killed relay's: a gap-free prefix, at least what was confirmed read.
            assert got == [True] * n + [False] * (len(got) - n), (
                f"{f.sender} {f.kind}: delivered is not a prefix of what was sent")
            assert n >= f.confirmed, f"{f.sender}: {f.confirmed - n} confirmed messages lost"
            assert all(group_of[(f.sender, q)] in killed_groups for q in f.seqs[:n]), f.sender
            lost += len(got) - n
            from_killed += n
        elif f.kind == "udp-down" and f.sender in killed_udp:
            # Sent while its relay was down: dropped by the kernel (no socket), or read by the
            # restarted relay once it listened. Never twice (checked above).
            lost += len(got) - n
        else:
            missing = [q for q, ok in zip(f.seqs, got) if not ok]
            assert not missing, f"{f.sender} {f.kind}: {len(missing)} lost, first {missing[:5]}"
    assert from_killed >= read_at_kill, (
        f"the killed relay had read {read_at_kill} messages; {from_killed} delivered")
    assert replayed > 0, "the restarted relay replayed no journal"
    assert len(copies) >= TOTAL - lost
    # For the docs: how much the kill cost, and how much was sent again.
    print(f"fan-out: {TOTAL} sent, {len(copies)} delivered, {lost} never read (the killed "
          f"relay's connections), {len(broken)} connections broken, {read_at_kill} read by the "
          f"killed relay, {replayed} replayed from its journal, {len(resent)} delivered twice "
          f"(same record resent)")
