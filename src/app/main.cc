// Covered by tests/integration/test_options.py and tests/integration/test_startup.py (every run of
// the relay goes through main).
#include <spdlog/spdlog.h>

#include "app/dump_command.h"
#include "app/listen_command.h"
#include "app/log_format.h"
#include "app/options.h"
#include "util/startup_error.h"

int main(int argc, char** argv) {
  using namespace kinesyslog;
  app::CommandLine commandLine = app::parseCommandLine(argc, argv);
  if (commandLine.finished) return commandLine.exitCode;
  try {
    switch (commandLine.command) {
      case app::CommandLine::Command::kListen:
        return app::runListen(commandLine.listen);
      case app::CommandLine::Command::kDump:
        return app::runDump(commandLine.dump);
      default:
        return kExitUsage;
    }
  } catch (const StartupError& e) {
    // One clear line (in the listener's --log-format), then the exit code the README lists.
    const bool listen = commandLine.command == app::CommandLine::Command::kListen;
    app::logStartupError(
        listen ? app::logFormatNamed(commandLine.listen.logFormat) : app::LogFormat::kText,
        e.what());
    return e.exitCode();
  }
}
