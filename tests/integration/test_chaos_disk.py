"""Disk full in the middle of a sustained send (docs/operations.md "Failure modes"): the spool
directory's disk, and the output directory's disk, each a small tmpfs made by the test and
filled to the last byte while TCP and UDP senders keep sending. TCP senders are paused (the
relay stops reading; nothing it read is lost), UDP datagrams the relay cannot take are dropped
and counted, and once space returns delivery resumes and every message read arrives exactly
once."""

import time

import pytest

import chaos as C
import relay as R


BURST = 30_000


def tcp_paused(senders, relay, pauses_before):
    """The relay stopped reading TCP: its pause counter moved and the senders are blocked."""
    return (relay.counters_now()["tcp_read_pauses"] > pauses_before
            and senders.tcp_stalled_for() > 1.0)


@pytest.mark.parametrize("full", ["spool", "output"])
def test_disk_full_pauses_tcp_counts_udp_drops_and_resumes(relays, dirs, tmp_path, full):
    small = tmp_path / "small"
    with C.tmpfs(small, "4m"):
        spool = small if full == "spool" else dirs.spool
        out = small if full == "output" else dirs.out
        output = R.Output(out)
        tcp_port, udp_port = R.free_port(), R.free_port()
        # The smallest spool the relay accepts, so a failing output directory fills it soon, and
        # a small flush size: what the encoders may hold while the spool's disk refuses writes
        # (flush size x workers) is reached in a fraction of a second, not after 8 MiB.
        r = relays.start(tcp=[tcp_port], udp=[udp_port], spool=spool, out=out,
                         extra=["--spool-max-bytes", "1000K", "--flush-size", "64K"])
        burster = R.udp_socket()
        senders = C.Senders("d", tcp_port=tcp_port, udp_port=udp_port, per_second=1500,
                            udp_per_second=500)
        try:
            # Running normally first: messages flow through.
            output.wait_events(lambda evs: len(evs) > 200, what="delivery before the fault")
            before = r.counters_now()
            filler = C.fill(small)

            # Full: TCP senders block (the relay stops reading), UDP is dropped and counted.
            C.poll(lambda: C.fill(small) and tcp_paused(senders, r, before["tcp_read_pauses"]),
                   what="TCP reading to pause")
            if full == "spool":
                c = C.poll(lambda: (lambda c: c if c["spool_write_errors"] > 0 else None)(
                    r.counters_now()), what="spool write errors")
                assert "No space left on device" in r.stderr
            else:
                c = C.poll(lambda: (lambda c: c if c["udp_dropped"] > before["udp_dropped"]
                                    else None)(r.counters_now()), what="UDP drops (spool full)")
                assert c["delivery_failures"] > before["delivery_failures"], c
            # A burst larger than any socket buffer the relay can get (it asks for 8 MiB): what the
            # relay does not take is dropped, by the relay (spool full) or by the kernel (the
            # relay not reading while its encoders cannot write), and counted either way.
            burst = [f"db-{i}" for i in range(BURST)]
            for i in burst:
                burster.sendto(C.message(i).encode(), ("127.0.0.1", udp_port))
            # While paused, what the relay read stays put: no TCP message is taken in while
            # the senders are blocked, so the count is stable between two looks.
            held = senders.counts()[0]
            tcp_in = r.counters_now()["messages_received"]

            # Space returns: the spool's disk by deleting the filler, the output directory's by
            # growing the file system.
            if full == "spool":
                filler.unlink()
            else:
                C.remount(small, "64m")
            C.poll(lambda: senders.tcp_stalled_for() < 0.5, what="TCP senders to move again")
            assert senders.counts()[0] > held
            assert r.counters_now()["messages_received"] > tcp_in
            tcp_sent, udp_sent = senders.finish()
            udp_sent |= set(burst)
        finally:
            senders.stop_event.set()
            senders.join()

        # The relay reads a socket's kernel drop count when it wakes to read that socket: a few
        # more from the burst's source port (so the same one of the relay's sockets).
        trailer = [f"dz-{i}" for i in range(20)]
        for i in trailer:
            burster.sendto(C.message(i).encode(), ("127.0.0.1", udp_port))
            time.sleep(0.01)
        burster.close()
        udp_sent |= set(trailer)
        output.wait_events(
            lambda evs: set(C.ids(evs)) >= tcp_sent | set(trailer[-1:]),
            timeout=60, what="every TCP message and the UDP trailer")
        assert r.stop() == 0, r.stderr[-3000:]
        c = r.counters()
        got = C.ids(output.events())
        assert len(got) == len(set(got)), f"{len(got) - len(set(got))} duplicates"
        got = set(got)
        assert got - tcp_sent - udp_sent == set(), "delivered but never sent"
        assert tcp_sent <= got, f"{len(tcp_sent - got)} TCP messages lost"
        udp_got = got & udp_sent
        # Every datagram is delivered, dropped by the relay (spool full) or dropped by the
        # kernel while the relay was not reading (socket buffer full): each drop counted.
        assert c["udp_datagrams"] - c["udp_dropped"] == len(udp_got), c
        assert c["udp_datagrams"] + c["udp_kernel_dropped"] == len(udp_sent), (c, len(udp_sent))
        assert c["tcp_read_pauses"] > 0, c
        if full == "spool":
            assert c["spool_write_errors"] > 0, c
            assert c["udp_kernel_dropped"] > 0, c
        else:
            assert c["udp_dropped"] > 0, c
            assert c["delivery_failures"] > 0, c
        print(f"{full} full: tcp {len(tcp_sent)}, udp sent {len(udp_sent)} delivered "
              f"{len(udp_got)}; " + " ".join(f"{k}={c[k]}" for k in (
                  "tcp_read_pauses", "udp_read_pauses", "udp_dropped", "udp_kernel_dropped",
                  "spool_write_errors", "journal_write_errors", "delivery_failures")))
