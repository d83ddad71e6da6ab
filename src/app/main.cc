#include <spdlog/spdlog.h>

#include <cstdio>

#include "app/dump_command.h"
#include "app/listen_command.h"
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
    // One clear line, then the exit code DESIGN §2 gives.
    std::fprintf(stderr, "kinesyslog: error: %s\n", e.what());
    return e.exitCode();
  }
}
