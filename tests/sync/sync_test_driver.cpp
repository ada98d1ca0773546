// A small process that runs the sync engine against the emulator until every stream is synced, for the crash
// test to SIGKILL at random points: `sync_test_driver --db sqlite:PATH --api URL --client-id ID --secret S
// --company C --projects 1,2,3`. Prints "synced" and exits 0 when done.
#include <unistd.h>
#include <chrono>
#include <cstdio>
#include <string>

#include "emulator_support.h"
#include "queue/queue.h"
#include "store/migrations.h"
#include "store/store.h"
#include "sync/drain.h"
#include "util/strings.h"

int main(int argc, char** argv) {
  using namespace kt;
  std::string db, api, client_id, secret, projects_arg;
  int64_t company = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i], v = argv[i + 1];
    if (k == "--db") db = v;
    if (k == "--api") api = v;
    if (k == "--client-id") client_id = v;
    if (k == "--secret") secret = v;
    if (k == "--company") company = ParseInt64(v).value_or(0);
    if (k == "--projects") projects_arg = v;
  }
  std::vector<int64_t> projects;
  for (const auto& p : Split(projects_arg, ',')) {
    if (auto id = ParseInt64(p)) projects.push_back(*id);
  }
  auto store = store::OpenStore(db);
  if (!store) {
    std::fprintf(stderr, "open: %s\n", store.error().message.c_str());
    return 2;
  }
  if (auto m = store::Migrate(**store); !m) {
    std::fprintf(stderr, "migrate: %s\n", m.error().message.c_str());
    return 2;
  }
  Clock& clock = SystemClock::Instance();
  SeededRandom random(static_cast<uint64_t>(getpid()));
  queue::Queue queue(**store, clock, random);
  sync::testing::HttpClientSource source(api, client_id, secret, clock);
  sync::SyncEngine engine(**store, queue, source, clock);
  const int64_t client = 42;
  if (auto s = engine.ApplyScope(sync::testing::FullScope(client, company, projects)); !s) {
    std::fprintf(stderr, "scope: %s\n", s.error().message.c_str());
    return 2;
  }
  queue::WorkerOptions options;
  options.threads = 4;
  // A short lease: after a SIGKILL the next process takes over the killed one's jobs quickly.
  options.lease = Millis(1'500);
  options.heartbeat_interval = Millis(250);
  options.idle_poll = Millis(20);
  queue::Worker worker(queue, options);
  if (!sync::RunUntilSynced(engine, queue, worker, client, std::chrono::minutes(10))) {
    std::fprintf(stderr, "timed out\n");
    return 1;
  }
  std::printf("synced\n");
  return 0;
}
