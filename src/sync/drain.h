// Running a client's sync to completion on a job worker of one's own, outside `ktrack serve`: for tools and
// test drivers (the benchmark's sync step, the crash test's driver process).
#pragma once

#include <chrono>
#include <cstdint>

#include "queue/queue.h"
#include "sync/engine.h"

namespace kt::sync {

// Registers the engine's handlers on the worker and starts it, then ticks the engine every 200 ms (as serve's
// scheduler does) until the queue has no pending or running job and the client has streams, every one synced
// (ListStreams, which also digests their checksums). Stops the worker either way; false when `limit` passed
// first.
bool RunUntilSynced(SyncEngine& engine, queue::Queue& queue, queue::Worker& worker, int64_t client_id,
                    std::chrono::steady_clock::duration limit);

}  // namespace kt::sync
