#pragma once

#include <signal.h>

#include <string>

namespace kinesyslog::app {

// What the relay does when a signal arrives (docs/operations.md "Signals"). Only SIGKILL ends
// the relay without a drain; signals the kernel raises for a fault of the relay itself (SIGSEGV,
// SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGSYS, SIGABRT) keep their default action, because
// continuing after one could corrupt data.
enum class SignalAction {
  kDrain,        // SIGTERM, SIGINT, and the other "please stop" signals: SIGQUIT, SIGXCPU, SIGPWR
  kReloadTls,    // SIGHUP
  kLogCounters,  // SIGUSR1: the counters line, and keep running
  kIgnore,       // everything else that would otherwise terminate the process (SIGUSR2, SIGALRM,
                 // real-time signals, ...)
};

SignalAction signalAction(int signal);

// "SIGUSR1", "SIGRTMIN+3": for log lines.
std::string signalName(int signal);

// Takes over every asynchronous signal for waitForSignal(). Call it on the main thread before
// any other thread starts: threads inherit the mask, so no thread ever runs a default action
// for these signals. SIGPIPE, SIGXFSZ and SIGUSR2 are set to SIG_IGN instead (the kernel
// raises the first two in the thread that wrote, where sigwait on the main thread would not
// see them; a write then just fails with EPIPE or EFBIG). Child processes (credential_process)
// are started with a clean mask and default actions.
void takeOverSignals();

// Blocks until one of the signals taken over arrives; returns its number.
int waitForSignal();

}  // namespace kinesyslog::app
