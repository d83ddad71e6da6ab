#include "net/peer_name.h"

namespace kinesyslog::net {

namespace {

char lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

// DNS names compare case-insensitively in ASCII only (RFC 4343 §3); other bytes must be equal.
bool equalIgnoringCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

}  // namespace

bool validAllowedPeer(std::string_view pattern) {
  if (pattern.empty()) return false;
  std::string_view rest = pattern;
  if (rest.substr(0, 2) == "*.") rest.remove_prefix(2);
  // What follows `*.` must itself be a name: `*.` alone or `*..x` would match oddities.
  if (rest.empty() || rest.front() == '.') return false;
  return rest.find('*') == std::string_view::npos;
}

bool peerNameMatches(std::string_view pattern, std::string_view name) {
  // A certificate's own wildcard is never expanded, and an empty name is no name.
  if (name.empty() || name.find('*') != std::string_view::npos) return false;
  if (pattern.substr(0, 2) != "*.") return equalIgnoringCase(pattern, name);
  // `*.` stands for exactly one non-empty leftmost label.
  const size_t dot = name.find('.');
  if (dot == 0 || dot == std::string_view::npos) return false;
  return equalIgnoringCase(pattern.substr(1), name.substr(dot));
}

bool peerNameAllowed(const PeerNames& names, const std::vector<std::string>& allowed) {
  auto anyPattern = [&](std::string_view name) {
    for (const auto& pattern : allowed) {
      if (peerNameMatches(pattern, name)) return true;
    }
    return false;
  };
  if (!names.dnsNames.empty()) {
    for (const auto& dns : names.dnsNames) {
      if (anyPattern(dns)) return true;
    }
    return false;  // the CN is not consulted when the certificate has DNS SANs
  }
  return anyPattern(names.commonName);
}

}  // namespace kinesyslog::net
