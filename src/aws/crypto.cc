#include "aws/crypto.h"

#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <cstdint>

#include "metrics/internal_error.h"

namespace kinesyslog::aws {
namespace {

constexpr char kHexDigits[] = "0123456789abcdef";
constexpr char kBase64Alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr uint8_t kNotBase64 = 0xff;

constexpr std::array<uint8_t, 256> makeBase64Values() {
  std::array<uint8_t, 256> values{};
  for (auto& value : values) value = kNotBase64;
  for (uint8_t i = 0; i < 64; ++i) values[static_cast<uint8_t>(kBase64Alphabet[i])] = i;
  return values;
}
constexpr std::array<uint8_t, 256> kBase64Values = makeBase64Values();

// SHA-256 and HMAC over in-memory bytes fail only when OpenSSL cannot allocate or its default
// provider is missing. The digests only sign requests: the zero digest left in their place
// makes a signature that AWS refuses, so delivery fails and retries while every record stays in
// the spool. Nothing is lost by going on, and a passing allocation failure heals by itself.
void opensslFailed(std::string& digest, const char* what) {
  (void)KINESYSLOG_BUG_IF(true, what);
  std::fill(digest.begin(), digest.end(), '\0');
}

}  // namespace

std::string sha256(std::string_view data) {
  std::string digest(kSha256Size, '\0');
  unsigned int size = 0;
  if (EVP_Digest(data.data(), data.size(), reinterpret_cast<unsigned char*>(digest.data()), &size,
                 EVP_sha256(), nullptr) != 1 ||
      size != kSha256Size) {
    opensslFailed(digest, "OpenSSL SHA-256 failed");
  }
  return digest;
}

std::string sha256Hex(std::string_view data) {
  return toHex(sha256(data));
}

std::string hmacSha256(std::string_view key, std::string_view data) {
  std::string mac(kSha256Size, '\0');
  size_t size = 0;
  // EVP_Q_mac accepts a null key pointer only with length 0; an empty std::string_view may carry
  // nullptr, so point at a dummy byte instead.
  static constexpr unsigned char kEmpty = 0;
  const void* keyBytes = key.empty() ? static_cast<const void*>(&kEmpty) : key.data();
  const auto* dataBytes = reinterpret_cast<const unsigned char*>(data.data());
  if (data.empty()) dataBytes = &kEmpty;
  if (EVP_Q_mac(nullptr, "HMAC", nullptr, "SHA256", nullptr, keyBytes, key.size(), dataBytes,
                data.size(), reinterpret_cast<unsigned char*>(mac.data()), mac.size(),
                &size) == nullptr ||
      size != kSha256Size) {
    opensslFailed(mac, "OpenSSL HMAC-SHA256 failed");
  }
  return mac;
}

std::string toHex(std::string_view bytes) {
  std::string out;
  out.resize(bytes.size() * 2);
  char* p = out.data();
  for (char c : bytes) {
    const auto byte = static_cast<uint8_t>(c);
    *p++ = kHexDigits[byte >> 4];
    *p++ = kHexDigits[byte & 0x0f];
  }
  return out;
}

void appendBase64(std::string& out, std::string_view data) {
  const size_t start = out.size();
  out.resize(start + base64EncodedSize(data.size()));
  char* p = out.data() + start;
  const auto* in = reinterpret_cast<const uint8_t*>(data.data());
  size_t remaining = data.size();
  for (; remaining >= 3; remaining -= 3, in += 3) {
    const uint32_t group = (uint32_t{in[0]} << 16) | (uint32_t{in[1]} << 8) | in[2];
    *p++ = kBase64Alphabet[(group >> 18) & 0x3f];
    *p++ = kBase64Alphabet[(group >> 12) & 0x3f];
    *p++ = kBase64Alphabet[(group >> 6) & 0x3f];
    *p++ = kBase64Alphabet[group & 0x3f];
  }
  // RFC 4648 §4: a final group of one or two bytes is padded with '=' to four characters.
  if (remaining > 0) {
    uint32_t group = uint32_t{in[0]} << 16;
    if (remaining == 2) group |= uint32_t{in[1]} << 8;
    *p++ = kBase64Alphabet[(group >> 18) & 0x3f];
    *p++ = kBase64Alphabet[(group >> 12) & 0x3f];
    *p++ = remaining == 2 ? kBase64Alphabet[(group >> 6) & 0x3f] : '=';
    *p++ = '=';
  }
}

std::string base64Encode(std::string_view bytes) {
  std::string out;
  appendBase64(out, bytes);
  return out;
}

std::optional<std::string> base64Decode(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  size_t padding = 0;
  if (!text.empty() && text.back() == '=') padding = text[text.size() - 2] == '=' ? 2 : 1;
  std::string out;
  out.reserve(text.size() / 4 * 3);
  for (size_t i = 0; i < text.size(); i += 4) {
    const bool last = i + 4 == text.size();
    const size_t symbols = last ? 4 - padding : 4;
    uint32_t group = 0;
    for (size_t j = 0; j < 4; ++j) {
      uint8_t value = 0;
      if (j < symbols) {
        value = kBase64Values[static_cast<uint8_t>(text[i + j])];
        if (value == kNotBase64) return std::nullopt;  // includes a '=' before the end
      }
      group = (group << 6) | value;
    }
    out.push_back(static_cast<char>(group >> 16));
    if (symbols > 2) out.push_back(static_cast<char>((group >> 8) & 0xff));
    if (symbols > 3) out.push_back(static_cast<char>(group & 0xff));
  }
  return out;
}

}  // namespace kinesyslog::aws
