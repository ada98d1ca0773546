// The sync engine against the real emulator over HTTP: initial sync equals the truth (small and demo),
// reconciliation alone repairs changes, faults and a tight spike limit give zero 429s, webhook deliveries are
// processed to the truth, and a SIGKILLed sync resumes without re-reading any page more than twice.
#include <gtest/gtest.h>

#include <signal.h>

#include <chrono>
#include <filesystem>
#include <random>
#include <thread>

#include "../emulator_webhooks/test_receiver.h"
#include "emulator_support.h"
#include "procore/webhooks.h"
#include "queue/queue.h"
#include "store/migrations.h"
#include "store/store.h"
#include "sync/webhook_event.h"

namespace kt::sync::testing {
namespace {

constexpr int64_t kClient = 42;

class EmulatorSyncTest : public ::testing::Test {
 protected:
  // Starts the emulator and the engine; false when the emulator is not built (the test then skips).
  bool StartAll(const std::string& preset, const nlohmann::json& faults = nullptr) {
    std::string why;
    if (!emulator_.Start(preset, 7, &why)) {
      skip_reason_ = why;
      return false;
    }
    emulator_.InstallApp();
    if (!faults.is_null()) emulator_.Faults(faults);
    auto opened = store::OpenStore("sqlite:" + dir_.path() + "/sync.db");
    EXPECT_TRUE(opened);
    store_ = std::move(*opened);
    EXPECT_TRUE(store::Migrate(*store_));
    queue_ = std::make_unique<queue::Queue>(*store_, clock_, random_);
    source_ = std::make_unique<HttpClientSource>(emulator_.url, emulator_.client_id, emulator_.client_secret,
                                                 clock_);
    engine_ = std::make_unique<SyncEngine>(*store_, *queue_, *source_, clock_);
    queue::WorkerOptions options;
    options.threads = 4;
    options.lease = Millis(20'000);
    options.heartbeat_interval = Millis(5'000);
    options.idle_poll = Millis(20);
    worker_ = std::make_unique<queue::Worker>(*queue_, options);
    engine_->RegisterHandlers(*worker_);
    worker_->Start();
    return true;
  }

  void TearDown() override {
    if (worker_) worker_->Stop();
  }

  // Waits until no job is left and every stream is synced.
  bool WaitSynced(std::chrono::seconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      auto counts = queue_->CountByStatus();
      if (!counts || counts->pending != 0 || counts->running != 0) continue;
      auto streams = engine_->ListStreams(kClient);
      if (!streams || streams->empty()) continue;
      bool all = true;
      for (const auto& s : *streams) all = all && s.status == "synced";
      if (all) return true;
    }
    return false;
  }

  void ExpectTruth() {
    auto streams = engine_->ListStreams(kClient);
    ASSERT_TRUE(streams);
    auto diffs = DiffWithTruth(*streams, emulator_.Truth());
    EXPECT_TRUE(diffs.empty()) << diffs.size()
                               << " streams differ, first: " << (diffs.empty() ? "" : diffs[0]);
  }

  // The most times one page (GET with its query) was read.
  int64_t MaxPageReads(const nlohmann::json& stats) {
    int64_t max = 0;
    for (const auto& [target, n] : stats.at("by_target").items()) {
      if (target.rfind("GET ", 0) == 0) max = std::max<int64_t>(max, n.get<int64_t>());
    }
    return max;
  }

  void Sync() {
    ASSERT_TRUE(engine_->ApplyScope(FullScope(kClient, emulator_.company_id, emulator_.project_ids)));
    ASSERT_TRUE(WaitSynced(std::chrono::seconds(240))) << "the sync did not finish";
  }

  kt::testing::TempDir dir_;
  Emulator emulator_;
  std::string skip_reason_;
  SystemClock& clock_ = SystemClock::Instance();
  SeededRandom random_{5};
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<queue::Queue> queue_;
  std::unique_ptr<HttpClientSource> source_;
  std::unique_ptr<SyncEngine> engine_;
  std::unique_ptr<queue::Worker> worker_;
};

#define START_OR_SKIP(...)                                  \
  if (!StartAll(__VA_ARGS__)) GTEST_SKIP() << skip_reason_; \
  if (HasFatalFailure()) return

TEST_F(EmulatorSyncTest, InitialSyncOfSmallEqualsTheTruthReadingEachPageOnce) {
  START_OR_SKIP("small");
  Sync();
  ExpectTruth();
  auto stats = emulator_.Stats();
  EXPECT_EQ(MaxPageReads(stats), 1);
  EXPECT_EQ(stats.at("rate_limited").get<int64_t>(), 0);
  // Requests: one per page (every small stream fits one page) plus one budget view per project, and the
  // token.
  auto streams = engine_->ListStreams(kClient);
  ASSERT_TRUE(streams);
  EXPECT_LE(stats.at("requests").get<int64_t>(),
            static_cast<int64_t>(streams->size() + emulator_.project_ids.size() + 1));
}

TEST_F(EmulatorSyncTest, InitialSyncOfDemoEqualsTheTruth) {
  START_OR_SKIP("demo", nlohmann::json{{"rate_limit", {{"spike", 400}, {"hourly", 100000}}}});
  Sync();
  ExpectTruth();
  auto stats = emulator_.Stats();
  EXPECT_EQ(MaxPageReads(stats), 1);
  EXPECT_EQ(stats.at("rate_limited").get<int64_t>(), 0);
}

TEST_F(EmulatorSyncTest, ReconciliationAloneRestoresEveryChecksumAfterChanges) {
  START_OR_SKIP("demo", nlohmann::json{{"rate_limit", {{"spike", 400}, {"hourly", 100000}}}});
  Sync();
  EXPECT_EQ(emulator_.Changes(2000, 3), 2000);  // no hooks: no webhooks
  ASSERT_TRUE(engine_->RequestReconcile(kClient));
  ASSERT_TRUE(WaitSynced(std::chrono::seconds(240)));
  ExpectTruth();
}

TEST_F(EmulatorSyncTest, ErrorsAndATightSpikeLimitGiveZero429s) {
  START_OR_SKIP(
      "small", nlohmann::json{{"error_rate", 0.05}, {"rate_limit", {{"spike", 25}, {"spike_window_s", 10}}}});
  Sync();
  ExpectTruth();
  auto stats = emulator_.Stats();
  EXPECT_EQ(stats.at("rate_limited").get<int64_t>(), 0);
  EXPECT_FALSE(stats.at("by_status").contains("429"));
}

TEST_F(EmulatorSyncTest, WebhookDeliveriesAreProcessedToTheTruth) {
  START_OR_SKIP("small");
  Sync();
  procore_emulator::testing::TestReceiver receiver;
  procore::WebhooksApi api(source_->client());
  procore::HookScope scope{emulator_.company_id, 0};
  auto hook =
      api.CreateHook(scope, {"ktrack-sync-test", receiver.Url(), "v2.0", std::string("Bearer s3cret")});
  ASSERT_TRUE(hook) << hook.error().error.message;
  std::vector<procore::TriggerSpec> triggers;
  for (const auto& e : procore::StreamEndpoints()) {
    for (const char* type : {"create", "update", "delete"}) {
      if (!e.webhook_resource.empty()) triggers.push_back({std::string(e.webhook_resource), type});
    }
  }
  for (const char* r : {"Commitment Change Orders", "Prime Change Orders"}) {
    for (const char* type : {"create", "update", "delete"}) triggers.push_back({r, type});
  }
  triggers.push_back({"Project Users", "update"});
  triggers.push_back({"Project Vendors", "update"});
  auto created = api.BulkCreateTriggers(scope, hook->id, "v2.0", triggers);
  ASSERT_TRUE(created) << created.error().error.message;

  emulator_.Faults({{"webhook_duplicate_rate", 0.2}});
  emulator_.ResetStats();
  ASSERT_EQ(emulator_.Changes(1000, 9), 1000);

  // Deliveries until they stop coming.
  size_t seen = 0;
  for (int quiet = 0; quiet < 10;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    size_t now = receiver.Count();
    quiet = now == seen && now >= 1000 ? quiet + 1 : 0;
    seen = now;
  }
  int accepted = 0, duplicates = 0;
  for (const auto& request : receiver.Requests()) {
    auto event = ParseWebhookEvent(request.body);
    ASSERT_TRUE(event) << event.error().message << ": " << request.body;
    auto r = engine_->inbox().Accept(kClient, *event, request.body);
    ASSERT_TRUE(r);
    (r->duplicate ? duplicates : accepted)++;
  }
  EXPECT_GT(duplicates, 0);
  // Within Procore's default budget (100 requests per 10 s) the records come back in a few dozen id-filtered
  // lists, not a thousand single reads. (Issue 7's 10 s is measured end to end by the integration tests.)
  const auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(WaitSynced(std::chrono::seconds(120)));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(15));
  auto counts = engine_->inbox().Counts(kClient);
  ASSERT_TRUE(counts);
  EXPECT_EQ(counts->pending, 0);
  ExpectTruth();
  auto stats = emulator_.Stats();
  EXPECT_LT(stats.at("requests").get<int64_t>(), accepted / 5) << stats.at("by_path").dump();
  EXPECT_LE(stats.at("max_record_count").get<int64_t>(), 2);
  EXPECT_EQ(stats.at("rate_limited").get<int64_t>(), 0);
}

TEST_F(EmulatorSyncTest, ASyncKilledAtRandomPointsResumesToTheTruth) {
  const std::string driver = kt::testing::BinPath("sync_test_driver");
  // Latency stretches the sync over seconds; the limits stay far away
  // (a restarted process does not know what the killed one spent in the current rate window).
  START_OR_SKIP("demo",
                nlohmann::json{{"latency_ms", 60}, {"rate_limit", {{"spike", 2000}, {"hourly", 100000}}}});
  worker_->Stop();  // the driver processes do the syncing here
  std::string projects;
  for (int64_t p : emulator_.project_ids) projects += (projects.empty() ? "" : ",") + std::to_string(p);
  const std::string db = "sqlite:" + dir_.path() + "/driver.db";
  std::vector<std::string> argv = {driver,
                                   "--db",
                                   db,
                                   "--api",
                                   emulator_.url,
                                   "--client-id",
                                   emulator_.client_id,
                                   "--secret",
                                   emulator_.client_secret,
                                   "--company",
                                   std::to_string(emulator_.company_id),
                                   "--projects",
                                   projects};
  // Each process is killed once it has waited out the killed one's 1.5 s lease and then made some progress of
  // its own (a number of requests to the emulator), so the kills land mid-sync however fast the machine is,
  // and the pages a kill interrupted are re-read (once) by the next process, as with restarts of a real
  // server.
  std::mt19937 rng(1234);
  std::uniform_int_distribution<int64_t> progress(10, 40);
  auto requests = [&] { return emulator_.Stats().at("requests").get<int64_t>(); };
  int kills = 0;
  for (int attempt = 0; attempt < 6; ++attempt) {
    kt::testing::ChildProcess child;
    child.Start(argv, {}, dir_.path() + "/driver.err");
    std::this_thread::sleep_for(std::chrono::milliseconds(1600));
    const int64_t target = requests() + progress(rng);
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (child.Running() && requests() < target && std::chrono::steady_clock::now() < give_up)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    if (!child.Running()) break;  // finished already
    child.Signal(SIGKILL);
    child.Wait();
    ++kills;
  }
  EXPECT_GE(kills, 3) << "the sync finished before the kills could interrupt it";
  kt::testing::ChildProcess last;
  last.Start(argv, {}, dir_.path() + "/driver.err");
  ASSERT_EQ(last.Wait(std::chrono::seconds(300)), 0) << "the driver did not finish";

  auto reopened = store::OpenStore(db);
  ASSERT_TRUE(reopened);
  queue::Queue queue(**reopened, clock_, random_);
  SyncEngine reader(**reopened, queue, *source_, clock_);
  auto streams = reader.ListStreams(kClient);
  ASSERT_TRUE(streams);
  auto diffs = DiffWithTruth(*streams, emulator_.Truth());
  EXPECT_TRUE(diffs.empty()) << diffs.size() << " streams differ, first: " << (diffs.empty() ? "" : diffs[0]);
  auto stats = emulator_.Stats();
  EXPECT_LE(MaxPageReads(stats), 2);
  for (const auto& [target, n] : stats.at("by_target").items()) {
    if (target.rfind("GET ", 0) == 0 && n.get<int64_t>() > 2)
      ADD_FAILURE() << target << " read " << n << " times; statuses " << stats.at("by_status");
  }
  // No 429 check here: a restarted process starts with an empty in-memory rate budget and does not know what
  // the killed one spent in the current window (a budget shared through the database would).
}

}  // namespace
}  // namespace kt::sync::testing
