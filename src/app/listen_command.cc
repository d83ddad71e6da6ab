// Covered by tests/integration/test_startup.py, tests/integration/test_shutdown.py and the rest of
// tests/integration/, which run `kinesyslog listen`.
#include "app/listen_command.h"

#include "app/relay.h"

namespace kinesyslog::app {

int runListen(const ListenOptions& options) {
  Relay relay(options);
  return relay.run();
}

}  // namespace kinesyslog::app
