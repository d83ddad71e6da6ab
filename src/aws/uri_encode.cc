#include "aws/uri_encode.h"

namespace kinesyslog::aws {
namespace {

constexpr char kUpperHex[] = "0123456789ABCDEF";

bool isUnreserved(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

}  // namespace

void appendUriEncoded(std::string& out, std::string_view text) {
  for (char c : text) {
    if (isUnreserved(c)) {
      out.push_back(c);
    } else {
      const auto byte = static_cast<unsigned char>(c);
      out.push_back('%');
      out.push_back(kUpperHex[byte >> 4]);
      out.push_back(kUpperHex[byte & 0x0f]);
    }
  }
}

std::string uriEncode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  appendUriEncoded(out, text);
  return out;
}

}  // namespace kinesyslog::aws
