// Covered by aws/curl_http_client_test.cc (HttpResponse::header on real answers).
#include "aws/http_client.h"

#include <algorithm>

namespace kinesyslog::aws {
namespace {

char asciiLower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

// Field names are case-insensitive (RFC 9110 §5.1); they are ASCII tokens, so no locale.
bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return asciiLower(x) == asciiLower(y);
         });
}

}  // namespace

std::string_view HttpResponse::header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (equalsIgnoreCase(key, name)) return value;
  }
  return {};
}

}  // namespace kinesyslog::aws
