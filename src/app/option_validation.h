#pragma once

#include <optional>
#include <string>

#include "app/options.h"

namespace kinesyslog::app {

// The checks on a parsed `listen` command line that no single option can make, and the defaults
// that depend on other options (--verify-client, --workers). Returns the usage error to print,
// or nothing. Covered by app/options_test.cc.
[[nodiscard]] std::optional<std::string> validateListenOptions(ListenOptions& o);

}  // namespace kinesyslog::app
