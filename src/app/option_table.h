#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <utility>
#include <vector>

#include "app/options.h"

namespace kinesyslog::app {

// The command line's option table (docs/design.md "Command line"): every subcommand and option,
// its help text, and how its value is read into a CommandLine. Parsing, the environment merge
// and validation are options.cc's. Covered by app/options_test.cc.
class OptionTable {
 public:
  // The options write into `result`, which must outlive the table.
  explicit OptionTable(CommandLine& result);
  OptionTable(const OptionTable&) = delete;
  OptionTable& operator=(const OptionTable&) = delete;

  CLI::App app{"kinesyslog: relays Syslog and GELF to AWS Kinesis Data Firehose", "kinesyslog"};
  CLI::App* listen = nullptr;
  CLI::App* dump = nullptr;
  // Every listen option that may also come from KINESYSLOG_<OPTION>, and whether it is a flag.
  std::vector<std::pair<CLI::Option*, bool>> environmentOptions;
  CLI::Option* tlsPort = nullptr;  // given or not decides the default TLS port

 private:
  CLI::Option* option(CLI::Option* opt, bool flag = false);
  CLI::Option* sizeOption(const std::string& name, uint64_t* target, const std::string& help);
  CLI::Option* secondsOption(const std::string& name, double* target, double min, double max,
                             const std::string& help);
  CLI::Option* portsOption(const std::string& name, std::vector<uint16_t>* target,
                           const std::string& help);
  void addListenerOptions(ListenOptions& o);
  void addTlsOptions(ListenOptions& o);
  void addDestinationOptions(ListenOptions& o);
  void addTuningOptions(ListenOptions& o);
};

}  // namespace kinesyslog::app
