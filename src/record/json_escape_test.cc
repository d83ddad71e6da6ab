#include "record/json_escape.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <cstdint>
#include <cstdio>
#include <random>
#include <string>

#include "record/backslash_replace_oracle.h"

namespace kinesyslog::record {
namespace {

using oracle::backslashReplace;

std::string escaped(std::string_view in) {
  std::string out;
  appendJsonEscaped(out, in);
  return out;
}

// Parses "<escaped>" with simdjson (which also validates UTF-8) and returns the string value.
::testing::AssertionResult decodesTo(std::string_view in, const std::string& expected) {
  const std::string json = "\"" + escaped(in) + "\"";
  simdjson::dom::parser parser;
  simdjson::padded_string padded(json);
  simdjson::dom::element doc;
  if (auto error = parser.parse(padded).get(doc)) {
    return ::testing::AssertionFailure() << "simdjson: " << error << " for " << json;
  }
  std::string_view value;
  if (auto error = doc.get_string().get(value)) {
    return ::testing::AssertionFailure() << "simdjson: " << error << " for " << json;
  }
  if (value != expected) {
    return ::testing::AssertionFailure() << "decoded " << value << " expected " << expected;
  }
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult matchesReference(std::string_view in) {
  return decodesTo(in, backslashReplace(in));
}

TEST(JsonEscapeTest, ReferenceDecoderAgreesWithPython) {
  // Values from CPython 3.11: b'...'.decode('utf-8', 'backslashreplace').
  EXPECT_EQ(backslashReplace("a\xff"
                             "b"),
            "a\\xffb");
  EXPECT_EQ(backslashReplace("\xe2\x82"
                             "A"),
            "\\xe2\\x82A");
  EXPECT_EQ(backslashReplace("\xed\xa0\x80"), "\\xed\\xa0\\x80");
  EXPECT_EQ(backslashReplace("\xe2\x82\xac"), "\xe2\x82\xac");
}

TEST(JsonEscapeTest, EverySingleByte) {
  for (int b = 0; b < 256; ++b) {
    const std::string in(1, static_cast<char>(b));
    EXPECT_TRUE(matchesReference(in)) << "byte " << b;
    // Also inside longer plain text, so both the vector and the scalar loops see it.
    const std::string padded = "0123456789abcdefghij" + in + "klmnopqrstuvwxyz0123456789";
    EXPECT_TRUE(matchesReference(padded)) << "byte " << b;
  }
}

TEST(JsonEscapeTest, ExactEscapes) {
  EXPECT_EQ(escaped(""), "");
  EXPECT_EQ(escaped("plain text"), "plain text");
  EXPECT_EQ(escaped("\""), "\\\"");
  EXPECT_EQ(escaped("\\"), "\\\\");
  EXPECT_EQ(escaped("\b\f\n\r\t"), "\\b\\f\\n\\r\\t");
  EXPECT_EQ(escaped(std::string_view("\0", 1)), "\\u0000");
  EXPECT_EQ(escaped("\x1b[0m"), "\\u001b[0m");
  EXPECT_EQ(escaped("\x1f"), "\\u001f");
  EXPECT_EQ(escaped("\x7f"), "\x7f");
  EXPECT_EQ(escaped("\xff"), "\\\\xff");
  EXPECT_EQ(escaped("a\x80z"), "a\\\\x80z");
}

TEST(JsonEscapeTest, AppendsWithoutClearing) {
  std::string out = "prefix:";
  appendJsonEscaped(out, "a\"b");
  EXPECT_EQ(out, "prefix:a\\\"b");
}

TEST(JsonEscapeTest, ValidMultiByteSequencesPassThrough) {
  const std::string cases[] = {
      "\xc2\x80",           // U+0080, smallest 2-byte
      "\xc3\xa9t\xc3\xa9",  // été
      "\xdf\xbf",           // U+07FF
      "\xe0\xa0\x80",       // U+0800, smallest 3-byte
      "\xe2\x82\xac",       // €
      "\xed\x9f\xbf",       // U+D7FF, just below the surrogates
      "\xee\x80\x80",       // U+E000, just above them
      "\xef\xbf\xbf",       // U+FFFF
      "\xf0\x90\x80\x80",   // U+10000, smallest 4-byte
      "\xf0\x9f\x98\x80",   // 😀
      "\xf4\x8f\xbf\xbf",   // U+10FFFF, the last code point
      "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e and ASCII mixed \xd0\x9f\xd1\x80\xd0\xb8",
  };
  for (const std::string& in : cases) {
    EXPECT_EQ(escaped(in), in);
    EXPECT_TRUE(decodesTo(in, in));
  }
}

TEST(JsonEscapeTest, IllFormedSequencesBecomeBackslashX) {
  struct Case {
    std::string in;
    std::string decoded;
  };
  const Case cases[] = {
      {"\xc0\x80", "\\xc0\\x80"},                    // overlong NUL
      {"\xc1\xbf", "\\xc1\\xbf"},                    // overlong 2-byte
      {"\xe0\x80\x80", "\\xe0\\x80\\x80"},           // overlong 3-byte
      {"\xe0\x9f\xbf", "\\xe0\\x9f\\xbf"},           // overlong U+07FF
      {"\xed\xa0\x80", "\\xed\\xa0\\x80"},           // surrogate U+D800
      {"\xed\xbf\xbf", "\\xed\\xbf\\xbf"},           // surrogate U+DFFF
      {"\xf0\x80\x80\x80", "\\xf0\\x80\\x80\\x80"},  // overlong 4-byte
      {"\xf4\x90\x80\x80", "\\xf4\\x90\\x80\\x80"},  // U+110000
      {"\xf5\x80\x80\x80", "\\xf5\\x80\\x80\\x80"},  // lead byte past F4
      {"\xff\xfe", "\\xff\\xfe"},
      {"\x80", "\\x80"},  // stray continuation
      {"a\xbf"
       "b",
       "a\\xbfb"},
      // Truncated at the end of the input.
      {"x\xc3", "x\\xc3"},
      {"x\xe2\x82", "x\\xe2\\x82"},
      {"x\xf0\x9f\x98", "x\\xf0\\x9f\\x98"},
      // Truncated and followed by ASCII.
      {"\xc3"
       "A",
       "\\xc3A"},
      {"\xe2\x82"
       "A",
       "\\xe2\\x82A"},
      {"\xf0\x9f\x98"
       "A",
       "\\xf0\\x9f\\x98A"},
      // A lead byte interrupting a sequence, then a valid one.
      {"\xe2\xc3\xa9", "\\xe2\xc3\xa9"},
      // Invalid byte next to characters that need escaping.
      {"\xff\"\\\n", "\\xff\"\\\n"},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(backslashReplace(c.in), c.decoded);
    EXPECT_TRUE(decodesTo(c.in, c.decoded));
  }
}

// Random byte strings of lengths 0..300 drawn from several alphabets, so that plain runs,
// escapes, valid multi-byte characters and every kind of breakage all occur.
TEST(JsonEscapeTest, RandomStringsMatchReference) {
  std::mt19937 rng(20240601);
  const std::string utf8Pieces[] = {"\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80",
                                    "\xd0\x9f", "\xef\xbf\xbf", "\xf4\x8f\xbf\xbf"};
  int validCount = 0;
  for (int n = 0; n < 6000; ++n) {
    const size_t length = std::uniform_int_distribution<size_t>(0, 300)(rng);
    const int alphabet = n % 4;
    std::string in;
    while (in.size() < length) {
      const uint32_t r = rng();
      switch (alphabet) {
        case 0:  // any byte
          in.push_back(static_cast<char>(r & 0xFF));
          break;
        case 1:  // mostly printable ASCII, some specials
          in.push_back(r % 20 == 0 ? "\"\\\n\t\x01\x7f"[r / 20 % 6]
                                   : static_cast<char>(0x20 + r % 95));
          break;
        case 2:  // valid UTF-8 with ASCII
          if (r % 3 == 0) {
            in.append(utf8Pieces[r / 3 % 6]);
          } else {
            in.push_back(static_cast<char>('a' + r % 26));
          }
          break;
        default:  // valid UTF-8, occasionally cut or corrupted
          if (r % 3 == 0) {
            const std::string& piece = utf8Pieces[r / 3 % 6];
            const bool cut = r % 17 == 0;
            in.append(piece, 0, cut ? piece.size() - 1 : piece.size());
          } else if (r % 23 == 1) {
            in.push_back(static_cast<char>(0x80 | (r >> 8 & 0x7F)));
          } else {
            in.push_back(static_cast<char>('a' + r % 26));
          }
          break;
      }
    }
    in.resize(length);
    const std::string expected = backslashReplace(in);
    if (expected.find("\\x") == std::string::npos) ++validCount;
    ASSERT_TRUE(decodesTo(in, expected)) << "case " << n;
  }
  // Both outcomes must have been exercised in quantity.
  EXPECT_GT(validCount, 1000);
  EXPECT_LT(validCount, 5000);
}

TEST(JsonEscapeTest, LongInputsCrossVectorBoundaries) {
  // Special bytes at every offset within a 16-byte block, and sequences straddling blocks.
  for (size_t offset = 0; offset < 40; ++offset) {
    for (const std::string special : {"\"", "\x01", "\xe2\x82\xac", "\xe2\x82", "\xff"}) {
      std::string in(offset, 'a');
      in += special;
      in += std::string(37, 'b');
      EXPECT_TRUE(matchesReference(in)) << offset;
    }
  }
}

}  // namespace
}  // namespace kinesyslog::record
