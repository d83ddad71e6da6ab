// Covered by tests/integration/test_options.py (`kinesyslog dump` and `dump --json` on spool
// files).
#include "app/dump_command.h"

#include <simdjson.h>

#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>

#include "proto/syslog/event_time.h"
#include "record/gzip.h"
#include "record/json_escape.h"
#include "record/record_encoder.h"

namespace kinesyslog::app {

namespace {

constexpr size_t kMaxObjectBytes = 1ull << 32;  // a delivery batch is at most 4 MiB of gzip

std::string millisText(int64_t ms) {
  char text[syslog::kRfc3339MicrosLength];
  syslog::formatRfc3339Micros(ms * 1000, text);
  // YYYY-MM-DDThh:mm:ss.mmm + Z: the microseconds' last three digits are always zero here.
  return std::string(text, 23) + "Z";
}

bool dumpFile(const std::string& path, bool json) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "kinesyslog: error: cannot read %s\n", path.c_str());
    return false;
  }
  std::string compressed((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto text = record::gunzip(compressed, kMaxObjectBytes);
  if (!text) {
    std::fprintf(stderr, "kinesyslog: error: %s is not a valid gzip object\n", path.c_str());
    return false;
  }
  simdjson::dom::parser parser;
  simdjson::dom::document_stream documents;
  // parse_many's window must hold the largest record (its default is 1 MB; a record's JSON may
  // be up to the encoder's cap).
  if (parser.parse_many(*text, record::kMaxRecordJsonBytes).get(documents) != simdjson::SUCCESS) {
    std::fprintf(stderr, "kinesyslog: error: %s holds no JSON records\n", path.c_str());
    return false;
  }
  std::string line;
  for (auto document : documents) {
    simdjson::dom::element record;
    std::string_view owner, group, stream;
    simdjson::dom::array events;
    if (document.get(record) || record["owner"].get(owner) || record["logGroup"].get(group) ||
        record["logStream"].get(stream) || record["logEvents"].get(events)) {
      std::fprintf(stderr,
                   "kinesyslog: error: %s holds a record that is not CloudWatch Logs "
                   "JSON\n",
                   path.c_str());
      return false;
    }
    for (auto event : events) {
      std::string_view id, message;
      int64_t timestamp = 0;
      if (event["id"].get(id) || event["timestamp"].get(timestamp) ||
          event["message"].get(message)) {
        std::fprintf(stderr, "kinesyslog: error: %s holds a malformed event\n", path.c_str());
        return false;
      }
      line.clear();
      if (json) {
        auto field = [&](std::string_view name, std::string_view value) {
          line += '"';
          line += name;
          line += "\":\"";
          record::appendJsonEscaped(line, value);
          line += "\",";
        };
        line += '{';
        field("owner", owner);
        field("logGroup", group);
        field("logStream", stream);
        field("id", id);
        line += "\"timestamp\":" + std::to_string(timestamp) + ",";
        field("message", message);
        line.back() = '}';
      } else {
        line += millisText(timestamp);
        line += ' ';
        line += group;
        line += ' ';
        line += stream;
        line += ' ';
        line += message;
      }
      line += '\n';
      std::fwrite(line.data(), 1, line.size(), stdout);
    }
  }
  return true;
}

}  // namespace

int runDump(const DumpOptions& options) {
  bool ok = true;
  for (const auto& file : options.files) ok = dumpFile(file, options.json) && ok;
  return ok ? 0 : 1;
}

}  // namespace kinesyslog::app
