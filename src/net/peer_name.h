#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace kinesyslog::net {

// The names a client certificate presents, as the certificate writes them (untrusted text).
struct PeerNames {
  std::vector<std::string> dnsNames;  // subjectAltName dNSName entries
  std::string commonName;             // the subject's most specific CN; "" when it has none
};

// docs/design.md "TLS peers": `--allowed-peer NAME` accepts a certificate when one of its DNS SANs
// equals NAME (ASCII case-insensitive, RFC 4343), or — only when it has no DNS SAN at all — its
// subject CN does. NAME may begin with `*.` to match exactly one leftmost label
// (`*.example.com` matches `a.example.com`, not `example.com` nor `a.b.example.com`).
// Wildcards inside certificates are not honoured: a certificate name holding `*` matches
// nothing, so a CA that signed `*.example.com` does not thereby admit `a.example.com`.
// Pure: no OpenSSL, no I/O.
bool peerNameAllowed(const PeerNames& names, const std::vector<std::string>& allowed);

// One --allowed-peer pattern against one certificate name.
bool peerNameMatches(std::string_view pattern, std::string_view name);

// True when `pattern` is usable as --allowed-peer: not empty, and `*` only as a whole leftmost
// `*.` label followed by at least one more label.
bool validAllowedPeer(std::string_view pattern);

}  // namespace kinesyslog::net
