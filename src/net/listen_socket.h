#pragma once

#include <cstdint>
#include <string>

namespace kinesyslog::net {

enum class Transport { kUdp, kTcp };

// Fails start-up (StartupError, exit 78) when another process already holds the port.
// SO_REUSEPORT alone would let a second relay share it silently (docs/design.md "Inputs"), so a
// plain bind is tried first and released at once. Without SO_REUSEPORT the probe never joins the
// port's reuseport group, whose join order the GELF steering relies on
// (net/sender_address_steering.h).
void ensurePortFree(const std::string& address, uint16_t port, Transport transport);

// A socket bound with SO_REUSEPORT (set on the native handle; Asio has no option for it), one
// per worker thread so the kernel spreads load (docs/design.md "Threads and memory"); listening
// when TCP. Non-blocking. Returns the file descriptor; throws StartupError (78 in use, 77
// permission denied).
int openReusePortSocket(const std::string& address, uint16_t port, Transport transport);

// The canonical text of a socket address (RFC 5952 for IPv6; IPv4-mapped IPv6 as IPv4).
std::string addressText(const void* sockaddr, unsigned length);

}  // namespace kinesyslog::net
