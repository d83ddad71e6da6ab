#include "app/options.h"

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <thread>

#include "app/option_table.h"
#include "app/option_validation.h"
#include "util/startup_error.h"

namespace kinesyslog::app {

namespace {

std::string envNameFor(const std::string& longName) {
  std::string name = "KINESYSLOG_";
  for (char c : longName) name += c == '-' ? '_' : static_cast<char>(std::toupper(c));
  return name;
}

bool envFlagTrue(std::string_view value) {
  return value == "1" || value == "true" || value == "TRUE" || value == "True" || value == "yes" ||
         value == "on";
}

std::vector<std::string> splitWhitespace(const std::string& text) {
  std::istringstream in(text);
  std::vector<std::string> parts;
  for (std::string part; in >> part;) parts.push_back(part);
  return parts;
}

}  // namespace

std::optional<double> parseSeconds(std::string_view text) {
  double value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc() || end != text.data() + text.size() ||
      !std::isfinite(value)) {
    return std::nullopt;
  }
  return value;
}

std::optional<uint16_t> parsePort(std::string_view text) {
  if (text.empty() || text.size() > 5) return std::nullopt;
  uint32_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + static_cast<uint32_t>(c - '0');
  }
  if (value > 65535) return std::nullopt;
  return static_cast<uint16_t>(value);
}

std::optional<uint64_t> parseByteSize(std::string_view text) {
  if (text.empty()) return std::nullopt;
  uint64_t multiplier = 1;
  char last = static_cast<char>(std::toupper(static_cast<unsigned char>(text.back())));
  if (last == 'K' || last == 'M' || last == 'G') {
    multiplier = last == 'K' ? 1024ull : last == 'M' ? 1024ull * 1024 : 1024ull * 1024 * 1024;
    text.remove_suffix(1);
  }
  if (text.empty() || text.size() > 15) return std::nullopt;
  uint64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + static_cast<uint64_t>(c - '0');
  }
  return value * multiplier;
}

namespace {

// docs/design.md "Command line": every listen option not given on the command line may come
// from KINESYSLOG_<OPTION>; a repeatable one takes several values separated by whitespace.
// Returns the words to append to the command line (which then wins).
std::vector<std::string> environmentWords(const OptionTable& table) {
  std::vector<std::string> extra;
  for (const auto& [opt, flag] : table.environmentOptions) {
    if (opt->count() > 0) continue;
    const std::string name = opt->get_lnames().front();
    const char* value = std::getenv(envNameFor(name).c_str());
    if (value == nullptr) continue;
    if (flag) {
      if (envFlagTrue(value)) extra.push_back("--" + name);
      continue;
    }
    auto words = opt->get_items_expected_max() > 1 ? splitWhitespace(value)
                                                   : std::vector<std::string>{value};
    for (auto& word : words) {
      extra.push_back("--" + name);
      extra.push_back(word);
    }
  }
  return extra;
}

void parseWords(CLI::App& app, const std::vector<std::string>& words) {
  std::vector<const char*> pointers;
  for (const auto& w : words) pointers.push_back(w.c_str());
  app.clear();
  app.parse(static_cast<int>(pointers.size()), pointers.data());
}

CommandLine finished(CommandLine result, int exitCode) {
  result.exitCode = exitCode;
  result.finished = true;
  return result;
}

}  // namespace

CommandLine parseCommandLine(int argc, const char* const* argv) {
  CommandLine result;
  OptionTable table(result);
  const std::vector<std::string> args(argv, argv + argc);
  try {
    parseWords(table.app, args);
    // CLI11 does not split repeats in one variable; "514 1514" must mean two ports, so the
    // environment's words are appended and the whole line is parsed again.
    if (table.listen->parsed()) {
      if (auto extra = environmentWords(table); !extra.empty()) {
        auto all = args;
        all.insert(all.end(), extra.begin(), extra.end());
        parseWords(table.app, all);
      }
    }
  } catch (const CLI::CallForHelp&) {
    // CLI11's help() shows the subcommand that was given (`kinesyslog listen --help`), once.
    std::fputs(table.app.help().c_str(), stdout);
    return finished(std::move(result), kExitOk);
  } catch (const CLI::CallForVersion&) {
    std::printf("kinesyslog %s\n", KINESYSLOG_VERSION);
    return finished(std::move(result), kExitOk);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "kinesyslog: error: %s (see --help)\n", e.what());
    return finished(std::move(result), kExitUsage);
  }
  if (table.dump->parsed()) {
    result.command = CommandLine::Command::kDump;
    return result;
  }
  result.command = CommandLine::Command::kListen;
  ListenOptions& o = result.listen;
  if (auto error = validateListenOptions(o)) {
    std::fprintf(stderr, "kinesyslog: error: %s (see --help)\n", error->c_str());
    return finished(std::move(result), kExitUsage);
  }
  // docs/design.md "Command line": the TLS port defaults to 6514 only when a certificate and key
  // are given.
  if (table.tlsPort->count() == 0 && !o.cert.empty() && !o.key.empty()) o.tlsPorts = {6514};
  return result;
}

}  // namespace kinesyslog::app
