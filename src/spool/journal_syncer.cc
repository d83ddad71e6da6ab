// Covered by tests/integration/test_journal.py (the syncer runs in every relay with the journal
// on).
#include "spool/journal_syncer.h"

#include "spool/message_journal.h"

namespace kinesyslog::spool {

JournalSyncer::JournalSyncer(std::vector<MessageJournal*> journals,
                             std::chrono::milliseconds interval)
    : journals_(std::move(journals)), interval_(interval) {
  thread_ = std::thread([this] { run(); });
}

JournalSyncer::~JournalSyncer() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void JournalSyncer::run() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    wake_.wait_for(lock, interval_, [this] { return stopping_; });
    lock.unlock();
    for (MessageJournal* journal : journals_) journal->sync();
    lock.lock();
  }
}

}  // namespace kinesyslog::spool
