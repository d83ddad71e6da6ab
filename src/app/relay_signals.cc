#include "app/relay_signals.h"

#include <string.h>

#include <array>

namespace kinesyslog::app {

namespace {

// Signals whose default action would stop or continue the process, or that the kernel raises
// synchronously for a fault in the thread that caused it: left as they are.
constexpr std::array kLeftAlone = {SIGKILL, SIGSTOP, SIGCONT,  SIGTSTP, SIGTTIN, SIGTTOU,
                                   SIGCHLD, SIGURG,  SIGWINCH, SIGSEGV, SIGBUS,  SIGFPE,
                                   SIGILL,  SIGTRAP, SIGSYS,   SIGABRT};

// Ignored with SIG_IGN rather than through sigwait (see takeOverSignals()).
constexpr std::array kDiscarded = {SIGPIPE, SIGXFSZ, SIGUSR2};

sigset_t waitedSignals() {
  // glibc's sigfillset leaves out the signals its threads implementation uses internally.
  sigset_t set;
  sigfillset(&set);
  for (int s : kLeftAlone) sigdelset(&set, s);
  for (int s : kDiscarded) sigdelset(&set, s);
  return set;
}

}  // namespace

SignalAction signalAction(int signal) {
  switch (signal) {
    case SIGTERM:
    case SIGINT:
    case SIGQUIT:
    case SIGXCPU:  // the CPU-time soft limit: SIGKILL follows at the hard limit
    case SIGPWR:   // power failing: init asks processes to stop
      return SignalAction::kDrain;
    case SIGHUP:
      return SignalAction::kReloadTls;
    case SIGUSR1:
      return SignalAction::kLogCounters;
    default:
      return SignalAction::kIgnore;
  }
}

std::string signalName(int signal) {
  if (signal >= SIGRTMIN && signal <= SIGRTMAX) {
    return signal == SIGRTMIN ? "SIGRTMIN" : "SIGRTMIN+" + std::to_string(signal - SIGRTMIN);
  }
  const char* name = ::sigabbrev_np(signal);
  return name != nullptr ? std::string("SIG") + name : "signal " + std::to_string(signal);
}

void takeOverSignals() {
  for (int s : kDiscarded) ::signal(s, SIG_IGN);
  const sigset_t set = waitedSignals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

int waitForSignal() {
  const sigset_t set = waitedSignals();
  int signal = 0;
  while (sigwait(&set, &signal) != 0) {
  }
  return signal;
}

}  // namespace kinesyslog::app
