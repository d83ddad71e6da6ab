#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

namespace kinesyslog::spool {

class MessageJournal;

// Bounds what a power failure can take from the journals (--journal-sync): every interval, in
// its own thread, fdatasync()s what each journal wrote since the last round, so that the I/O
// threads never wait for the disk. A process death needs no sync: the page cache survives it.
class JournalSyncer {
 public:
  JournalSyncer(std::vector<MessageJournal*> journals, std::chrono::milliseconds interval);
  // Syncs once more and stops.
  ~JournalSyncer();
  JournalSyncer(const JournalSyncer&) = delete;
  JournalSyncer& operator=(const JournalSyncer&) = delete;

 private:
  void run();

  std::vector<MessageJournal*> journals_;
  std::chrono::milliseconds interval_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace kinesyslog::spool
