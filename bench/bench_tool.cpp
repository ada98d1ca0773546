// The benchmark's helper process (scripts/bench):
//
//   ktrack_bench_tool sync --db sqlite:PATH --api URL --client-id ID --company C --projects 1,2,3 [--threads
//   N]
//     (the app's secret in KTRACK_BENCH_CLIENT_SECRET) runs KTrack's sync engine on a job worker configured
//     as `ktrack serve` configures it (worker.job_threads, default 4) until every stream is synced, then
//     prints "synced". The script measures this process from outside (wall, CPU and peak RSS through wait4)
//     and samples its database for progress, so nothing here adds work that serve would not do.
//   ktrack_bench_tool store --db sqlite:PATH --records N --per-transaction K --body-bytes B
//     stores N generated records of B bytes the way a full read's last page commit stores them: WritePage
//     (one record_pages row) and the stream's sweep and digest in one transaction per K records, through the
//     same store, with no HTTP, queue, parsing or stream bookkeeping. Its CPU is the part of the sync's CPU
//     that writing the records alone costs.
//   ktrack_bench_tool http-floor --level http|parse [--io-threads N]
//     serves POST /webhooks/procore/{integration_key} on 127.0.0.1 (a free port, printed as "port N") with
//     KTrack's HTTP server and no storage, until SIGTERM: `http` answers 200 at once on the I/O thread;
//     `parse` first does what the receiver does before storing (the Bearer secret's SHA-256 and the event's
//     parse). Against nginx in the same run, it shows what the HTTP layer alone costs of the ingest.
//   ktrack_bench_tool webhook-secret --data-dir DIR --client N --out FILE
//     writes the integration's current webhook secret to FILE (mode 0600), read the way the server reads it,
//     for wrk to send as Procore does. It never prints the secret.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "crypto/master_key.h"
#include "crypto/secret_store.h"
#include "emulator_support.h"
#include "http/server.h"
#include "queue/queue.h"
#include "store/migrations.h"
#include "store/sqlite/wal_batch_vfs.h"
#include "store/store.h"
#include "sync/drain.h"
#include "sync/records.h"
#include "sync/webhook_event.h"
#include "util/hash.h"
#include "util/strings.h"

namespace {

using namespace kt;

std::map<std::string, std::string> Flags(int argc, char** argv) {
  std::map<std::string, std::string> flags;
  for (int i = 2; i + 1 < argc; i += 2) flags[argv[i]] = argv[i + 1];
  return flags;
}

int Fail(const std::string& what, const std::string& message) {
  std::fprintf(stderr, "ktrack_bench_tool: %s: %s\n", what.c_str(), message.c_str());
  return 2;
}

int Sync(std::map<std::string, std::string> flags) {
  const char* secret = std::getenv("KTRACK_BENCH_CLIENT_SECRET");
  if (!secret || !*secret) return Fail("sync", "KTRACK_BENCH_CLIENT_SECRET is not set");
  const int64_t company = ParseInt64(flags["--company"]).value_or(0);
  if (company <= 0) return Fail("sync", "--company must be a Procore company id");
  std::vector<int64_t> projects;
  for (const auto& p : Split(flags["--projects"], ',')) {
    auto id = ParseInt64(p);
    if (!id) return Fail("sync", "--projects must be a comma list of project ids, not '" + p + "'");
    projects.push_back(*id);
  }
  const int threads = static_cast<int>(ParseInt64(flags["--threads"]).value_or(4));
  auto store = store::OpenStore(flags["--db"]);
  if (!store) return Fail("open " + flags["--db"], store.error().message);
  if (auto m = store::Migrate(**store); !m) return Fail("migrate", m.error().message);

  Clock& clock = SystemClock::Instance();
  SeededRandom random(static_cast<uint64_t>(getpid()));
  queue::Queue queue(**store, clock, random);
  sync::testing::HttpClientSource source(flags["--api"], flags["--client-id"], secret, clock);
  sync::SyncEngine engine(**store, queue, source, clock);
  const int64_t client = 1;
  if (auto s = engine.ApplyScope(sync::testing::FullScope(client, company, projects)); !s)
    return Fail("scope", s.error().message);
  queue::Worker worker(queue, queue::WorkerOptions{.threads = threads});
  if (!sync::RunUntilSynced(engine, queue, worker, client, std::chrono::hours(1)))
    return Fail("sync", "not every stream was synced within an hour");
  std::printf("synced\n");
  // The WAL's writes, so a change that stops batching them shows in the bench's results.
  const store::WalBatchStats wal = store::GetWalBatchStats();
  std::printf("wal frames=%lld batched_writes=%lld unbatched_writes=%lld checkpoint_pages=%lld\n",
              static_cast<long long>(wal.frames), static_cast<long long>(wal.batched_writes),
              static_cast<long long>(wal.direct_writes), static_cast<long long>(wal.checkpoint_pages));
  return 0;
}

// A record's JSON: its id and updated_at, then a description that pads it to `bytes`.
std::string RecordJson(int64_t id, std::string_view updated_at, size_t bytes) {
  std::string json = "{\"id\":" + std::to_string(id) + ",\"updated_at\":\"" + std::string(updated_at) +
                     "\",\"title\":\"Record " + std::to_string(id) + "\",\"description\":\"";
  const size_t tail = 2;  // "}
  if (json.size() + tail < bytes) json.append(bytes - json.size() - tail, 'x');
  json += "\"}";
  return json;
}

int StoreRecords(std::map<std::string, std::string> flags) {
  const int64_t total = ParseInt64(flags["--records"]).value_or(0);
  const int64_t per_tx = ParseInt64(flags["--per-transaction"]).value_or(0);
  const int64_t bytes = ParseInt64(flags["--body-bytes"]).value_or(0);
  if (total <= 0 || per_tx <= 0 || bytes <= 0)
    return Fail("store", "--records, --per-transaction and --body-bytes must be positive numbers");
  auto store = store::OpenStore(flags["--db"]);
  if (!store) return Fail("open " + flags["--db"], store.error().message);
  if (auto m = store::Migrate(**store); !m) return Fail("migrate", m.error().message);

  const std::string updated_at = "2026-11-02T10:15:30Z";
  const int64_t seen_ms = SystemClock::Instance().NowUnixMs();
  std::vector<std::string> bodies(static_cast<size_t>(per_tx));
  std::vector<sync::IncomingRecord> records;
  int64_t next_id = 1;
  for (int64_t stored = 0, stream = 1; stored < total; stored += per_tx, ++stream) {
    const int64_t n = std::min(per_tx, total - stored);
    records.clear();
    for (int64_t i = 0; i < n; ++i) {
      std::string& body = bodies[static_cast<size_t>(i)];
      body = RecordJson(next_id, updated_at, static_cast<size_t>(bytes));
      records.push_back({next_id++, updated_at, "", body});
    }
    // One stream per transaction, as a single-page stream's commit is.
    const sync::RecordScope scope{.client_id = 1, .company_id = 5, .stream = "rfis", .project_id = stream};
    Status s = (*store)->Transact([&](store::Tx& tx) -> Status {
      auto written = sync::WritePage(tx, scope, seen_ms, 1, records, seen_ms);
      if (!written) return tl::unexpected(written.error());
      auto digest = sync::SweepAndDigest(tx, scope, seen_ms);
      if (!digest) return tl::unexpected(digest.error());
      return {};
    });
    if (!s) return Fail("store", s.error().message);
  }
  std::printf("stored %lld\n", static_cast<long long>(total));
  return 0;
}

int WebhookSecret(std::map<std::string, std::string> flags) {
  const std::string dir = flags["--data-dir"];
  const std::string out = flags["--out"];
  if (dir.empty() || out.empty()) return Fail("webhook-secret", "--data-dir and --out are required");
  auto store = store::OpenStore("sqlite:" + dir + "/ktrack.db");
  if (!store) return Fail("open", store.error().message);
  auto keyring = crypto::LoadKeyring(crypto::KeySourceFromEnvironment(dir));
  if (!keyring) return Fail("keyring", keyring.error().message);
  crypto::SecretStore secrets(**store, keyring->keyring, SystemClock::Instance());
  auto got = secrets.Get("client:" + flags["--client"], "procore.webhook_secret");
  if (!got) return Fail("secret", got.error().message);
  if (!*got) return Fail("secret", "client " + flags["--client"] + " has no webhook secret (not completed?)");
  int fd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd < 0) return Fail("write " + out, "cannot create the file");
  const std::string& value = **got;
  bool ok = ::write(fd, value.data(), value.size()) == static_cast<ssize_t>(value.size());
  ::close(fd);
  return ok ? 0 : Fail("write " + out, "short write");
}

}  // namespace

// KTrack's HTTP server with the webhook route and nothing behind it (see the header).
int HttpFloor(std::map<std::string, std::string> flags) {
  const std::string level = flags["--level"];
  if (level != "http" && level != "parse") return Fail("http-floor", "--level must be http or parse");
  const auto io_threads = ParseInt64(flags.count("--io-threads") ? flags["--io-threads"] : "2").value_or(2);
  auto router = std::make_shared<http::Router>();
  const bool parse = level == "parse";
  http::IoFront front = [parse](http::Request& r, const http::Responder& respond) {
    if (parse) {
      const std::string secret = Sha256Hex(r.Header("Authorization").value_or(""));
      auto event = sync::ParseWebhookEvent(r.body);
      if (!event || secret.empty()) {
        respond(http::Response::Json(400, {{"error", {{"code", "invalid_webhook_payload"}}}}));
        return true;
      }
    }
    respond(http::Response::Json(200, {{"status", "accepted"}}));
    return true;
  };
  router->Post("/webhooks/procore/{integration_key}",
               [](http::Request&) {
                 return http::Response::Json(500, {{"error", {{"code", "not_reached"}}}});
               },
               {.io_front = std::move(front)});
  http::ServerOptions options;
  options.listen = "127.0.0.1:0";
  options.io_threads = static_cast<size_t>(std::max<int64_t>(1, io_threads));
  http::Server server(options, router);
  auto port = server.Start();
  if (!port) return Fail("http-floor", port.error().message);
  std::printf("port %u\n", static_cast<unsigned>(*port));
  std::fflush(stdout);
  http::WaitForShutdownSignal();
  server.Stop(std::chrono::milliseconds(1000));
  return 0;
}

int main(int argc, char** argv) {
  const std::string command = argc > 1 ? argv[1] : "";
  if (command == "sync") return Sync(Flags(argc, argv));
  if (command == "store") return StoreRecords(Flags(argc, argv));
  if (command == "webhook-secret") return WebhookSecret(Flags(argc, argv));
  if (command == "http-floor") return HttpFloor(Flags(argc, argv));
  std::fprintf(stderr, "usage: ktrack_bench_tool sync|store|webhook-secret|http-floor --flag value ...\n");
  return 2;
}
