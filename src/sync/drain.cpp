// A client's sync run to completion on a caller's job worker.
#include "sync/drain.h"

#include <thread>

namespace kt::sync {
namespace {

// The queue is idle and the client has streams, all synced.
bool AllSynced(SyncEngine& engine, queue::Queue& queue, int64_t client_id) {
  auto live = queue.HasLiveJobs();
  if (!live || *live) return false;
  auto streams = engine.ListStreams(client_id);
  if (!streams || streams->empty()) return false;
  for (const auto& s : *streams)
    if (s.status != "synced") return false;
  return true;
}

}  // namespace

bool RunUntilSynced(SyncEngine& engine, queue::Queue& queue, queue::Worker& worker, int64_t client_id,
                    std::chrono::steady_clock::duration limit) {
  engine.RegisterHandlers(worker);
  worker.Start();
  const auto deadline = std::chrono::steady_clock::now() + limit;
  bool synced = false;
  while (!synced && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    (void)engine.Tick();  // a failed tick is retried on the next round, as serve's scheduler does
    synced = AllSynced(engine, queue, client_id);
  }
  worker.Stop();
  return synced;
}

}  // namespace kt::sync
