#pragma once

#include <string_view>

namespace kinesyslog::syslog {

// Removes every trailing CR, LF and NUL. Senders end messages with any mix of them (the event
// builder applies this to TCP messages as well, whose octet-counted bodies keep their trailer).
std::string_view stripTrailingNewlines(std::string_view message);

// The syslog message inside one UDP datagram (RFC 5426 §3.1: one message per datagram).
// Some senders (loggen -P among them) put an RFC 6587 §3.4.1 octet count in front anyway:
// a leading `[1-9][0-9]{0,8} SP` whose value equals the number of bytes after the space, as
// received, is removed. A count that does not match leaves the datagram as it is, since it is
// then more likely the start of the message text. Trailing CR/LF/NUL are stripped afterwards.
// The result is a view into `datagram`.
std::string_view unwrapDatagram(std::string_view datagram);

}  // namespace kinesyslog::syslog
