#pragma once

#include "app/options.h"

namespace kinesyslog::app {

// Runs the relay until SIGTERM/SIGINT; returns the process exit code. Start-up problems throw
// StartupError.
int runListen(const ListenOptions& options);

}  // namespace kinesyslog::app
