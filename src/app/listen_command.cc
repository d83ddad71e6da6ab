// Covered by the integration tests, which run `kinesyslog listen` (tests/integration/).
#include "app/listen_command.h"

#include "app/relay.h"

namespace kinesyslog::app {

int runListen(const ListenOptions& options) {
  Relay relay(options);
  return relay.run();
}

}  // namespace kinesyslog::app
