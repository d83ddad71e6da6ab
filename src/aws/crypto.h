#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

// Hashing and encodings the AWS code needs: SHA-256 and HMAC-SHA256 (OpenSSL 3 EVP) for SigV4,
// base64 (RFC 4648 §4) for Firehose record data, lowercase hex for SigV4's hex-encoded values.
namespace kinesyslog::aws {

inline constexpr size_t kSha256Size = 32;

// The SHA-256 digest of `data`, raw (32 bytes).
std::string sha256(std::string_view data);
// The SHA-256 digest of `data` as 64 lowercase hex digits (SigV4's HexEncode(Hash(...))).
std::string sha256Hex(std::string_view data);
// HMAC-SHA256 (RFC 2104) of `data` under `key`, raw (32 bytes). Keys of any length.
std::string hmacSha256(std::string_view key, std::string_view data);
// Lowercase hex, two digits a byte.
std::string toHex(std::string_view bytes);
// The length of the RFC 4648 §4 base64 text of `n` bytes, padding included.
constexpr size_t base64EncodedSize(size_t n) {
  return (n + 2) / 3 * 4;
}
// RFC 4648 §4 base64 of `data` (standard alphabet, '=' padding, no line breaks) appended to
// `out`: encoding straight into a larger buffer, such as a request body reserved with
// base64EncodedSize(), saves a temporary string. `data` must not point into `out`.
void appendBase64(std::string& out, std::string_view data);
// The same as a new string.
std::string base64Encode(std::string_view bytes);
// Strict RFC 4648 §4 base64: the standard alphabet, padded to a multiple of 4, '=' only at the
// end, no whitespace. nullopt for anything else (§3.3: reject non-alphabet characters). Non-zero
// pad bits (§3.5) are accepted.
[[nodiscard]] std::optional<std::string> base64Decode(std::string_view text);

}  // namespace kinesyslog::aws
