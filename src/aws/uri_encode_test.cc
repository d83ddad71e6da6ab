#include "aws/uri_encode.h"

#include <gtest/gtest.h>

#include <string>

namespace kinesyslog::aws {
namespace {

TEST(UriEncode, KeepsOnlyUnreserved) {
  EXPECT_EQ(uriEncode("aZ09-_.~"), "aZ09-_.~");
  EXPECT_EQ(uriEncode("a b+c/=&\xff"), "a%20b%2Bc%2F%3D%26%FF");
}

TEST(UriEncode, EveryByteAndAppending) {
  EXPECT_EQ(uriEncode(""), "");
  EXPECT_EQ(uriEncode(std::string("\0\x1f%*", 4)), "%00%1F%25%2A");
  std::string out = "path=";
  appendUriEncoded(out, "/a b/");
  EXPECT_EQ(out, "path=%2Fa%20b%2F");
  std::string all;
  for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
  const std::string encoded = uriEncode(all);
  // 66 unreserved characters stay, the other 190 bytes take three characters each.
  EXPECT_EQ(encoded.size(), 66u + 190u * 3u);
}

}  // namespace
}  // namespace kinesyslog::aws
