#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

namespace kinesyslog::spool {
class SpoolDirectory;
}

namespace kinesyslog::record {

struct JournalReplayReport {
  uint64_t runs = 0;             // earlier runs whose journal was found
  uint64_t segments = 0;         // segment files read
  uint64_t messages = 0;         // messages written into spool records now
  uint64_t records = 0;          // spool records written for them
  uint64_t alreadySpooled = 0;   // journaled messages whose records were already spooled
  uint64_t corruptSegments = 0;  // segments read only up to a torn or damaged frame
  uint64_t orphanMessages = 0;   // messages whose batch opening was not found (dropped)
  uint64_t ignoredFiles = 0;     // journal names that are not regular files of this user
  bool incomplete = false;       // a spool write failed: the rest stays for the next start
};

// Replays the journal segments that earlier runs left in the spool directory `dir` (the relay
// died before their batches were spooled) into spool records, before any listener opens, each
// journaled message exactly once: messages already spooled (marked in the journal) are skipped,
// and every record written now is marked in the journal too, so a crash during the replay
// repeats nothing. A run's segments are deleted once all of its messages are spooled; when a
// spool write fails, they stay for the next start. `removeReplayedSegments` false keeps them
// anyway: for tests, as if the relay died right before deleting them.
JournalReplayReport replayJournal(const std::filesystem::path& dir, spool::SpoolDirectory& spool,
                                  const std::string& owner, int compressionLevel,
                                  bool removeReplayedSegments = true);

}  // namespace kinesyslog::record
