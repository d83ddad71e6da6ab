#include "aws/crypto.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <utility>

namespace kinesyslog::aws {
namespace {

std::string fromHex(std::string_view hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  }
  return out;
}

TEST(Sha256, KnownDigests) {
  // FIPS 180-2 appendix B examples and the empty string.
  EXPECT_EQ(sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(sha256(std::string(1000000, 'a')),
            fromHex("cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"));
}

TEST(Sha256, BinaryInput) {
  const std::string withNul("a\0b", 3);
  EXPECT_NE(sha256Hex(withNul), sha256Hex("a"));
  EXPECT_EQ(sha256Hex(withNul).size(), 64u);
}

struct HmacCase {
  const char* name;
  std::string key;
  std::string data;
  const char* expectedHex;
  size_t truncateTo = 32;
};

// RFC 4231 §4.2-§4.8, HMAC-SHA-256 results.
TEST(HmacSha256, Rfc4231Vectors) {
  const HmacCase cases[] = {
      {"4.2", std::string(20, '\x0b'), "Hi There",
       "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"},
      {"4.3", "Jefe", "what do ya want for nothing?",
       "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
      {"4.4", std::string(20, '\xaa'), std::string(50, '\xdd'),
       "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"},
      {"4.5", fromHex("0102030405060708090a0b0c0d0e0f10111213141516171819"),
       std::string(50, '\xcd'), "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"},
      {"4.6", std::string(20, '\x0c'), "Test With Truncation", "a3b6167473100ee06e0c796c2955552b",
       16},
      {"4.7", std::string(131, '\xaa'), "Test Using Larger Than Block-Size Key - Hash Key First",
       "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"},
      {"4.8", std::string(131, '\xaa'),
       "This is a test using a larger than block-size key and a larger than block-size data. The "
       "key needs to be hashed before being used by the HMAC algorithm.",
       "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"},
  };
  for (const HmacCase& c : cases) {
    const std::string mac = hmacSha256(c.key, c.data);
    ASSERT_EQ(mac.size(), 32u) << c.name;
    EXPECT_EQ(toHex(mac.substr(0, c.truncateTo)), c.expectedHex) << "RFC 4231 " << c.name;
  }
}

TEST(HmacSha256, EmptyKeyAndData) {
  // Python: hmac.new(b"", b"", hashlib.sha256).hexdigest()
  EXPECT_EQ(toHex(hmacSha256("", "")),
            "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
}

TEST(Hex, LowercaseTwoDigitsPerByte) {
  EXPECT_EQ(toHex(""), "");
  EXPECT_EQ(toHex(std::string("\x00\x01\x7f\x80\xff", 5)), "00017f80ff");
  EXPECT_EQ(toHex("AZ"), "415a");
}

// RFC 4648 §10 test vectors: plain text, base64.
constexpr std::pair<const char*, const char*> kRfc4648Vectors[] = {
    {"", ""},
    {"f", "Zg=="},
    {"fo", "Zm8="},
    {"foo", "Zm9v"},
    {"foob", "Zm9vYg=="},
    {"fooba", "Zm9vYmE="},
    {"foobar", "Zm9vYmFy"},
};

TEST(Base64, Rfc4648Vectors) {
  for (const auto& [plain, encoded] : kRfc4648Vectors) {
    EXPECT_EQ(base64Encode(plain), encoded) << plain;
    const std::optional<std::string> decoded = base64Decode(encoded);
    ASSERT_TRUE(decoded.has_value()) << encoded;
    EXPECT_EQ(*decoded, plain);
  }
}

// The same vectors appended after existing text, which must stay as it was.
TEST(Base64, AppendsRfc4648VectorsToExistingText) {
  std::string all = "{\"Data\":\"";
  std::string expected = all;
  for (const auto& [plain, encoded] : kRfc4648Vectors) {
    std::string out = "prefix:";
    appendBase64(out, plain);
    EXPECT_EQ(out, std::string("prefix:") + encoded) << plain;
    EXPECT_EQ(base64EncodedSize(std::string_view(plain).size()), std::string_view(encoded).size());
    appendBase64(all, plain);
    expected += encoded;
  }
  EXPECT_EQ(all, expected);
}

TEST(Base64, EncodedSize) {
  EXPECT_EQ(base64EncodedSize(0), 0u);
  EXPECT_EQ(base64EncodedSize(1), 4u);
  EXPECT_EQ(base64EncodedSize(3), 4u);
  EXPECT_EQ(base64EncodedSize(4), 8u);
  EXPECT_EQ(base64EncodedSize(1024000), 1365336u);
  std::string out;
  out.reserve(base64EncodedSize(1024000));
  const char* before = out.data();
  appendBase64(out, std::string(1024000, 'x'));
  EXPECT_EQ(out.size(), 1365336u);
  EXPECT_EQ(out.data(), before);  // no reallocation past the reserved size
}

TEST(Base64, UsesBothHighSymbolsAndRoundTripsEveryByte) {
  EXPECT_EQ(base64Encode("\xfb\xff\xbf"), "+/+/");
  std::string all;
  for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
  for (size_t n = 0; n <= all.size(); n += 37) {
    const std::string prefix = all.substr(0, n);
    EXPECT_EQ(base64Decode(base64Encode(prefix)), prefix) << n;
  }
}

TEST(Base64, RejectsMalformedInput) {
  for (const char* bad : {"Zg", "Zg=", "Zm9", "Z===", "====", "Zg==Zg==", "Zm9v\n", " Zm9v", "Zm-v",
                          "Zm_v", "Zm=v", "=m9v", "Zm9v===="}) {
    EXPECT_FALSE(base64Decode(bad).has_value()) << bad;
  }
  EXPECT_FALSE(base64Decode(std::string_view("Zm\0v", 4)).has_value());
}

TEST(Base64, AcceptsNonZeroPadBits) {
  // RFC 4648 §3.5 lets decoders accept these; "Zh==" carries the same byte as "Zg==".
  EXPECT_EQ(base64Decode("Zh=="), "f");
}

}  // namespace
}  // namespace kinesyslog::aws
