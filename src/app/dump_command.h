#pragma once

#include "app/options.h"

namespace kinesyslog::app {

// Prints the events of delivered objects (or spool files); returns the exit code.
int runDump(const DumpOptions& options);

}  // namespace kinesyslog::app
