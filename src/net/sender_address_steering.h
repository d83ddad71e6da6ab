#pragma once

#include <linux/filter.h>

#include <vector>

namespace kinesyslog::net {

// --gelf over UDP: the chunks of one message must meet in the one chunk assembler that holds
// their set, and sets are keyed by sender address and message id. A sender may send each chunk
// from a socket of its own, or a NAT may change its source port, and the kernel's own choice
// among the SO_REUSEPORT sockets of a port hashes the whole 4-tuple: the chunks of one message
// would reach several workers and expire there. This classic BPF program, attached to the
// port's reuseport group (SO_ATTACH_REUSEPORT_CBPF, socket(7)), chooses the socket of a chunk
// (a payload that starts with the GELF magic 0x1e 0x0f) by a hash of the IP source address
// alone: every chunk of one address reaches one socket, different addresses still spread over
// all of them. Any other datagram is a whole message: the program returns an index the group
// does not have, and the kernel falls back to its 4-tuple hash (socket(7)), which spreads one
// busy sender's ports over the workers.
//
// The kernel runs it with the UDP payload at offset 0 and the network header at SKF_NET_OFF.
// It reads the IP version, then the IPv4 source address (RFC 791 §3.1, offset 12) or the four
// words of the IPv6 one (RFC 8200 §3, offset 8); an IPv6 socket that is not IPV6_V6ONLY also
// receives IPv4 packets, so both occur on one socket. A chunk's index is the hash modulo
// `sockets`; the index of a socket is the order in which it joined the group, and when one
// closes the last one takes its place (socket(7)).
std::vector<sock_filter> chunkSteeringProgram(unsigned sockets);

// Attaches chunkSteeringProgram(sockets) to the reuseport group `fd` belongs to; attach it once
// the group's `sockets` members have joined. Returns 0, or the errno with which the kernel
// refused (before Linux 4.5, or a seccomp filter).
[[nodiscard]] int steerChunksBySenderAddress(int fd, unsigned sockets);

}  // namespace kinesyslog::net
