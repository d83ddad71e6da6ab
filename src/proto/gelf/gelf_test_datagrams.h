#pragma once

// Builders of GELF datagrams for unit tests, fuzz targets and benchmarks: one definition of the
// wire format on the sending side, so that a mistake in it cannot hide in one copy.

#include <libdeflate.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>

#include "proto/gelf/gelf_inflater.h"

namespace kinesyslog::gelf::testing {

// One chunk datagram (GELF 1.1 "Chunking"): magic 0x1e 0x0f, the 8-byte message id, sequence
// number, sequence count, then the piece of the message.
inline std::string chunk(uint64_t id, unsigned sequence, unsigned count, std::string_view piece) {
  std::string d = "\x1e\x0f";
  char idBytes[8];
  std::memcpy(idBytes, &id, sizeof idBytes);
  d.append(idBytes, sizeof idBytes);
  d.push_back(static_cast<char>(sequence));
  d.push_back(static_cast<char>(count));
  d.append(piece);
  return d;
}

// `data` as a zlib stream (RFC 1950) or a gzip member (RFC 1952), as GELF senders send them.
inline std::string compress(GelfEncoding encoding, std::string_view data, int level = 6) {
  std::unique_ptr<libdeflate_compressor, decltype(&libdeflate_free_compressor)> c(
      libdeflate_alloc_compressor(level), &libdeflate_free_compressor);
  std::string out(data.size() + 1024, '\0');
  const size_t n =
      encoding == GelfEncoding::kZlib
          ? libdeflate_zlib_compress(c.get(), data.data(), data.size(), out.data(), out.size())
          : libdeflate_gzip_compress(c.get(), data.data(), data.size(), out.data(), out.size());
  out.resize(n);
  return out;
}

}  // namespace kinesyslog::gelf::testing
