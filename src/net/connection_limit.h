#pragma once

#include <cstddef>
#include <cstdint>

namespace kinesyslog::net {

// Connections and the relay's own files share one descriptor limit (RLIMIT_NOFILE). Accepting
// up to the limit would leave no descriptor for a spool file, a journal segment, an output object
// or an upload's socket, so nothing read could be delivered until a sender went away
// (docs/operations.md "Failure modes"). Accepting stops instead at the limit less what was open
// when the listeners started, less a reserve for what the relay opens as it runs.

// Descriptors the relay may open while running, beyond those open at start: per worker a journal
// segment being replaced and an encoder's spool file; per stream (or the output directory) 8 upload
// lanes, each with a connection and a reconnect (or an object and its directory); the metrics
// endpoint's 32 connections and its listener; and 16 for the rest (credential refresh, TLS
// reload, the spool and /proc directories).
uint64_t descriptorReserve(unsigned workers, size_t destinations);

// Connections the process may hold open at once, at least 1.
uint64_t connectionLimit(uint64_t descriptorLimit, uint64_t openDescriptors, uint64_t reserve);

// Descriptors this process has open now (entries of /proc/self/fd, less the one listing it).
uint64_t openDescriptorCount();

}  // namespace kinesyslog::net
