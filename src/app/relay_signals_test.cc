#include "app/relay_signals.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

namespace kinesyslog::app {
namespace {

TEST(RelaySignals, EachSignalHasItsAction) {
  EXPECT_EQ(signalAction(SIGTERM), SignalAction::kDrain);
  EXPECT_EQ(signalAction(SIGINT), SignalAction::kDrain);
  EXPECT_EQ(signalAction(SIGQUIT), SignalAction::kDrain);
  EXPECT_EQ(signalAction(SIGHUP), SignalAction::kReloadTls);
  EXPECT_EQ(signalAction(SIGUSR1), SignalAction::kLogCounters);
  EXPECT_EQ(signalAction(SIGUSR2), SignalAction::kIgnore);
  EXPECT_EQ(signalAction(SIGALRM), SignalAction::kIgnore);
  EXPECT_EQ(signalAction(SIGRTMIN + 2), SignalAction::kIgnore);
  EXPECT_EQ(signalName(SIGUSR1), "SIGUSR1");
  EXPECT_EQ(signalName(SIGRTMIN + 2), "SIGRTMIN+2");
}

// In a child process: after takeOverSignals(), signals whose default action ends the process
// (sent to the process, as kill(1) does) reach waitForSignal() or are discarded.
TEST(RelaySignals, TakenOverSignalsDoNotEndTheProcess) {
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    takeOverSignals();
    for (int s : {SIGUSR2, SIGPIPE, SIGALRM, SIGPROF, SIGIO, SIGXFSZ}) ::kill(::getpid(), s);
    ::kill(::getpid(), SIGUSR1);
    int first = waitForSignal();
    while (signalAction(first) == SignalAction::kIgnore) first = waitForSignal();
    ::_exit(first == SIGUSR1 ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status)) << "ended by signal " << WTERMSIG(status);
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

}  // namespace
}  // namespace kinesyslog::app
