#pragma once
// For the fuzz targets of incremental parsers: a parser must give the same answer whatever way
// the socket's reads split its input, so one input is fed whole, in two pieces and a byte at a
// time, and the three answers must agree.
#include <cstddef>
#include <string_view>

namespace kinesyslog::fuzz {

// Feeds `piece`; traps unless feed() returns the outcome the parser reports afterwards.
template <class Parser>
void feedChecked(Parser& parser, std::string_view piece) {
  if (parser.feed(piece) != parser.outcome()) __builtin_trap();
}

// Feeds `stream` into `whole` in one piece, and into two fresh parsers split at `split` and byte
// by byte; traps unless `fields` (the parser's whole answer as a comparable value) agrees.
template <class Parser, class Fields>
void feedWholeSplitAndByteByByte(Parser& whole, std::string_view stream, size_t split,
                                 Fields fields) {
  feedChecked(whole, stream);

  Parser halves;
  feedChecked(halves, stream.substr(0, split));
  feedChecked(halves, stream.substr(split));
  if (fields(halves) != fields(whole)) __builtin_trap();

  Parser bytes;
  for (size_t i = 0; i < stream.size(); ++i) feedChecked(bytes, stream.substr(i, 1));
  if (fields(bytes) != fields(whole)) __builtin_trap();
}

}  // namespace kinesyslog::fuzz
