// The sync engine against the fake Procore: initial sync, crash-resume between pages, reconciliation, webhook
// processing, errors with fixes, rate limits, scope changes and the read side.
#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <atomic>
#include <cctype>
#include <condition_variable>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string_view>
#include <thread>

#include "postgres.h"
#include "sync/records.h"
#include "sync_fixture.h"
#include "util/process.h"

namespace kt::sync::testing {
namespace {

// Runs on SQLite and on PostgreSQL (when a server can be started here).
class EngineTest : public SyncFixture, public ::testing::WithParamInterface<std::string> {
 protected:
  std::string StoreUrl() override {
    if (GetParam() == "sqlite") return SyncFixture::StoreUrl();
    std::string name = "sync_";
    for (char c : std::string(::testing::UnitTest::GetInstance()->current_test_info()->name())) {
      if (std::isalnum(static_cast<unsigned char>(c))) name += static_cast<char>(std::tolower(c));
      if (name.size() >= 48) break;
    }
    return kt::testing::PostgresServer::Instance().CreateDatabase(name);
  }

  void SetUp() override {
    if (GetParam() == "postgres") {
      std::string why;
      if (!kt::testing::PostgresServer::Available(&why)) GTEST_SKIP() << why;
    }
    SyncFixture::SetUp();
    if (HasFatalFailure()) return;
    fake_.List("projects",
               {"/rest/v1.1/projects", "company_id=1", "/rest/v1.0/projects/", true, false, false, {}});
    fake_.List("users",
               {"/rest/v1.3/companies/1/users", "", "/rest/v1.3/companies/1/users/", true, false, true, {}});
    for (int64_t p : {5, 6}) {
      std::string ps = std::to_string(p);
      FakeList rfis{"/rest/v1.0/projects/" + ps + "/rfis",
                    "",
                    "/rest/v1.0/projects/" + ps + "/rfis/",
                    true,
                    false,
                    false,
                    {}};
      rfis.id_filter = p == 5;  // project 6's list ignores filters[id][]
      fake_.List("rfis:" + ps, rfis);
    }
    fake_.List("cost_codes:5",
               {"/rest/v1.0/cost_codes", "project_id=5", "/rest/v1.0/cost_codes/", false, false, false, {}});
    fake_.List(
        "change_events:5",
        {"/rest/v1.1/change_events", "project_id=5", "/rest/v1.1/change_events/", true, true, false, {}});
    fake_.List(
        "budget:5",
        {"/rest/v1.0/budget_views/777/detail_rows", "project_id=5", "/none/", false, false, false, {}});

    for (int64_t id : {5, 6, 7, 8, 9})
      fake_.Put("projects", id, kBase + id * 1000, "Project " + std::to_string(id));
    for (int64_t id = 101; id <= 105; ++id)
      fake_.Put("users", id, kBase + id * 1000, "user" + std::to_string(id));
    for (int64_t id = 11; id <= 17; ++id) fake_.Put("rfis:5", id, kBase + id * 1000);
    for (int64_t id = 21; id <= 23; ++id) fake_.Put("rfis:6", id, kBase + id * 1000);
    for (int64_t id = 31; id <= 34; ++id) fake_.Put("cost_codes:5", id, kBase + id * 1000);
    for (int64_t id = 41; id <= 45; ++id) fake_.Put("change_events:5", id, kBase + id * 1000);
    for (int64_t id = 51; id <= 53; ++id) fake_.Put("budget:5", id, kBase + id * 1000);
    fake_.SoftDelete("users", 105, kBase + 105'000);  // inactive: not in the list
  }

  SyncScope Scope(const std::vector<int64_t>& projects = {5, 6}) {
    SyncScope scope;
    scope.client_id = kClient;
    scope.company_id = kCompany;
    scope.company_streams = {"projects", "company_users"};
    for (int64_t p : projects) {
      ScopedProject sp{p, "Project " + std::to_string(p), {"rfis"}};
      if (p == 5) sp.streams = {"rfis", "cost_codes", "change_events", "budget_detail_rows"};
      scope.projects.push_back(sp);
    }
    return scope;
  }

  void ExpectAllTruth() {
    ExpectTruth("projects", 0, "projects");
    ExpectTruth("company_users", 0, "users");
    ExpectTruth("rfis", 5, "rfis:5");
    ExpectTruth("rfis", 6, "rfis:6");
    ExpectTruth("cost_codes", 5, "cost_codes:5");
    ExpectTruth("change_events", 5, "change_events:5");
    ExpectTruth("budget_detail_rows", 5, "budget:5");
  }

  void InitialSync() {
    ASSERT_TRUE(engine_->ApplyScope(Scope()));
    Drain();
    for (const auto& [key, s] : Streams()) EXPECT_EQ(s.status, "synced") << key.first << " " << key.second;
  }

  // Requests made to targets containing `path` (and `also`, when given).
  int Reads(std::string_view path, std::string_view also = "") {
    int reads = 0;
    for (const auto& [target, n] : fake_.Targets()) {
      if (target.find(path) != std::string::npos && target.find(also) != std::string::npos) reads += n;
    }
    return reads;
  }

  WebhookEvent Event(std::string key, std::string resource, std::string type, int64_t id,
                     std::optional<int64_t> project, int64_t at_ms) {
    WebhookEvent e;
    e.payload_version = "v2.0";
    e.event_key = std::move(key);
    e.resource_name = std::move(resource);
    e.event_type = std::move(type);
    e.resource_id = id;
    e.company_id = kCompany;
    e.project_id = project;
    e.timestamp_ms = at_ms;
    e.timestamp = FormatIso8601(at_ms, true);
    return e;
  }
};

TEST_P(EngineTest, StreamsForDomainsFollowTheSettingsTable) {
  auto d = StreamsForDomains({"directory", "budget", "commitments", "daily_logs", "nonsense"});
  EXPECT_EQ(d.company_streams, (std::vector<std::string>{"projects", "company_users", "vendors", "trades"}));
  EXPECT_EQ(d.project_streams, (std::vector<std::string>{"budget_detail_rows", "work_order_contracts",
                                                         "purchase_order_contracts",
                                                         "commitment_change_orders", "manpower_logs"}));
  EXPECT_EQ(StreamsForDomains({}).company_streams, (std::vector<std::string>{"projects"}));
  EXPECT_EQ(StreamForWebhookResource("RFIs"), "rfis");
  EXPECT_EQ(StreamForWebhookResource("Project Users"), "company_users");
  EXPECT_EQ(StreamForWebhookResource("Budget Line Items"), "budget_detail_rows");
  EXPECT_FALSE(StreamForWebhookResource("RFI Replies"));
}

TEST_P(EngineTest, InitialSyncCopiesEveryStreamReadingEachPageOnce) {
  InitialSync();
  ExpectAllTruth();
  EXPECT_EQ(fake_.MaxTargetCount("/rest/"), 1);
  // The minimum: ceil(n / 2) pages per list, plus the budget view lookup and the token.
  const int pages =
      3 /*projects*/ + 2 /*users*/ + 4 + 2 /*rfis*/ + 2 /*cost codes*/ + 3 /*change events*/ + 2 /*budget*/;
  EXPECT_EQ(fake_.Requests(), pages + 1 + 1);

  auto streams = Streams();
  EXPECT_EQ(At(streams, "rfis", 5).procore_total, 7);
  EXPECT_EQ(At(streams, "rfis", 5).project_id, 5);
  EXPECT_FALSE(At(streams, "projects", 0).project_id);
  EXPECT_TRUE(At(streams, "projects", 0).last_synced_at_ms);

  // The typed tables follow the records.
  auto projects =
      store_->Query("SELECT count(*) FROM procore_projects WHERE client_id = $1 AND deleted = 0", {kClient});
  ASSERT_TRUE(projects);
  EXPECT_EQ(projects->rows[0].Int(0), 5);
  auto users = store_->Query(
      "SELECT name, email_address FROM procore_users WHERE client_id = $1 AND procore_id = 101", {kClient});
  ASSERT_TRUE(users);
  ASSERT_EQ(users->rows.size(), 1u);
  EXPECT_EQ(users->rows[0].Text(1), "user101@example.com");
}

// A read's start and its last page's checkpoint are written by the pages' own commits, with no UPDATE of
// their own: what the next read starts from (the watermark, the page size, the budget view) is kept, for a
// stream read in one page (start and end in the same commit) as for one of several.
TEST_P(EngineTest, AReadsStartAndItsLastCheckpointAreWrittenWithItsPages) {
  fake_.List("rfis:7",
             {"/rest/v1.0/projects/7/rfis", "", "/rest/v1.0/projects/7/rfis/", true, false, false, {}});
  fake_.Put("rfis:7", 71, kBase + 71'000);
  ASSERT_TRUE(engine_->ApplyScope(Scope({5, 6, 7})));
  Drain();
  auto rows = store_->Query(
      "SELECT stream, project_id, watermark_ms, page_size, pass_read, started_at, pass_started_at, "
      "parent_id, "
      "pass, status, full_passes, wants, count FROM sync_streams WHERE client_id = $1 AND stream IN ('rfis', "
      "'budget_detail_rows')",
      {kClient});
  ASSERT_TRUE(rows);
  std::map<std::pair<std::string, int64_t>, const store::Row*> by_key;
  for (const auto& row : rows->rows) by_key[{row.Text("stream"), row.Int("project_id")}] = &row;
  const std::map<std::pair<std::string, int64_t>, std::pair<int64_t, int64_t>> expected = {
      // stream, project -> watermark, records read
      {{"rfis", 5}, {kBase + 17'000, 7}},
      {{"rfis", 6}, {kBase + 23'000, 3}},
      {{"rfis", 7}, {kBase + 71'000, 1}},
      {{"budget_detail_rows", 5}, {0, 3}}};  // budget rows carry no updated_at
  for (const auto& [key, want] : expected) {
    SCOPED_TRACE(key.first + "@" + std::to_string(key.second));
    ASSERT_TRUE(by_key.contains(key));
    const store::Row& row = *by_key[key];
    EXPECT_EQ(row.Text("status"), "synced");
    EXPECT_EQ(row.Text("pass"), "");
    EXPECT_EQ(row.Text("wants"), "");
    EXPECT_EQ(row.Int("full_passes"), 0);
    if (want.first) {
      EXPECT_EQ(row.Int("watermark_ms"), want.first);
    }
    EXPECT_EQ(row.Int("pass_read"), want.second);
    EXPECT_EQ(row.Int("count"), want.second);
    EXPECT_EQ(row.Int("page_size"), 2);
    EXPECT_GT(row.Int("pass_started_at"), 0);
    EXPECT_EQ(row.OptInt("started_at"), row.Int("pass_started_at"));
  }
  const std::pair<std::string, int64_t> budget{"budget_detail_rows", 5};
  EXPECT_EQ(by_key[budget]->Int("parent_id"), 777);
}

TEST_P(EngineTest, AStreamNotReadYetCountsInTheEtaAsTheRequestItsFirstPageTakes) {
  InitialSync();  // the budget has learned Procore's limit (the fake's 10,000 per 10 s)
  // Project 7 is linked: its RFIs wait for their first page, so Procore has not said how many there are.
  ASSERT_TRUE(engine_->ApplyScope(Scope({5, 6, 7})));
  auto streams = Streams();
  const auto& waiting = At(streams, "rfis", 7);
  EXPECT_EQ(waiting.status, "pending");
  EXPECT_FALSE(waiting.procore_total);
  ASSERT_TRUE(waiting.eta_s) << "a stream still to read is work left, not nothing";
  EXPECT_GE(*waiting.eta_s, 1);
  EXPECT_FALSE(At(streams, "rfis", 5).eta_s) << "a synced stream has nothing left";
}

TEST_P(EngineTest, CrashBeforeAPageCommitResumesWithoutDuplicatesOrSkips) {
  ASSERT_TRUE(engine_->ApplyScope(Scope()));
  // Every third job loses its first page commit, as if the process died between the read and the commit.
  for (int step = 0; step < 20000; ++step) {
    if (step % 3 == 0) flaky_->arm_record_write_failures = 1;
    auto ran = worker_->RunOnce();
    ASSERT_TRUE(ran);
    if (*ran) continue;
    flaky_->arm_record_write_failures = 0;
    auto counts = queue_->CountByStatus();
    ASSERT_TRUE(counts);
    if (counts->pending == 0 && counts->running == 0) break;
    clock_.Advance(Millis(1000));
  }
  EXPECT_GT(flaky_->failed, 3);
  ExpectAllTruth();
  EXPECT_LE(fake_.MaxTargetCount("/rest/"), 2);
  for (const auto& [target, n] : fake_.Targets()) {
    if (n > 2) ADD_FAILURE() << target << " read " << n << " times";
  }
}

TEST_P(EngineTest, ReconciliationAloneRepairsCreatesUpdatesAndDeletes) {
  InitialSync();
  clock_.Advance(Millis(60'000));
  const int64_t later = kBase + 500'000;
  fake_.Put("rfis:5", 18, later);    // created
  fake_.Touch("rfis:5", 11, later);  // updated
  fake_.HardDelete("rfis:5", 12);    // deleted: only a count or a full read shows it
  fake_.Put("cost_codes:5", 35, later);
  fake_.Touch("cost_codes:5", 31, later);
  fake_.HardDelete("cost_codes:5", 32);
  fake_.SoftDelete("change_events:5", 41, later);  // seen through include_deleted
  fake_.Touch("change_events:5", 42, later);
  fake_.SoftDelete("users", 101, later);  // deactivated: leaves the list
  fake_.Put("projects", 10, later);
  fake_.Touch("budget:5", 51, later);
  fake_.ResetCounts();

  ASSERT_TRUE(engine_->RequestReconcile(kClient));
  Drain();
  ExpectAllTruth();
  for (const auto& [key, s] : Streams()) EXPECT_EQ(s.status, "synced") << key.first;
  auto user =
      store_->Query("SELECT deleted FROM procore_users WHERE client_id = $1 AND procore_id = 101", {kClient});
  ASSERT_TRUE(user);
  EXPECT_EQ(user->rows.at(0).Int(0), 1);

  // An incremental read asks only for what changed since the watermark (less its overlap).
  EXPECT_GT(Reads("/rest/v1.0/projects/6/rfis?", "filters%5Bupdated_at%5D"), 0);
}

// serve clears the hook before its worker is destroyed: a wake that had begun must be over by then (the
// inbox's committer called the destroyed worker at shutdown; ThreadSanitizer found it).
TEST_P(EngineTest, AClearedWakeHookIsNeitherRunningNorCalledAgain) {
  Inbox& inbox = engine_->inbox();
  std::atomic<bool> cleared{false}, stop{false}, called_after{false};
  std::atomic<int> calls{0};
  inbox.SetWakeHook([&](Millis) {
    ++calls;
    std::this_thread::sleep_for(std::chrono::microseconds(300));  // a wake that takes a while
    if (cleared) called_after = true;
  });
  std::thread committer([&] {
    while (!stop) inbox.Wake(Millis(1));
  });
  while (calls < 3) std::this_thread::yield();
  inbox.SetWakeHook(nullptr);
  cleared = true;
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  stop = true;
  committer.join();
  EXPECT_FALSE(called_after);
}

// A server killed mid-batch on this machine (SQLite) and started again processes the events it had claimed at
// once; a claim of a live process stays. On PostgreSQL every claim runs out first (other hosts' processes).
TEST_P(EngineTest, EventsClaimedByAProcessGoneFromThisMachineAreReleasedAtStart) {
  const int64_t at = clock_.NowUnixMs();
  ASSERT_TRUE(engine_->inbox().Accept(kClient, Event("gone", "RFIs", "update", 11, 5, at)));
  ASSERT_TRUE(engine_->inbox().Accept(kClient, Event("alive", "RFIs", "update", 12, 5, at)));
  ASSERT_TRUE(engine_->inbox().Accept(kClient, Event("elsewhere", "RFIs", "update", 13, 5, at)));
  const pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  ASSERT_GT(child, 0);
  ASSERT_EQ(::waitpid(child, nullptr, 0), child);
  auto claim = [&](const std::string& key, const std::string& token) {
    auto r = store_->Exec(
        "UPDATE webhook_inbox SET claim_token = $1, claimed_until = $2 WHERE event_key = $3 AND client_id = "
        "$4",
        {token, at + 60'000, key, kClient});
    ASSERT_TRUE(r && *r == 1);
  };
  claim("gone", HostName() + "-" + std::to_string(child) + "-0123456789ab");
  claim("alive", HostName() + "-" + std::to_string(::getppid()) + "-0123456789ab");
  claim("elsewhere", "another-host-" + std::to_string(child) + "-0123456789ab");
  auto released = engine_->ReleaseInboxClaimsOfDeadProcesses();
  ASSERT_TRUE(released) << released.error().message;
  auto claimed = [&](const std::string& key) {
    auto r = store_->Query("SELECT claimed_until FROM webhook_inbox WHERE event_key = $1", {key});
    return r && !r->empty() && r->rows[0].OptInt("claimed_until").has_value();
  };
  const bool sqlite = store_->dialect() == store::Dialect::kSqlite;
  EXPECT_EQ(*released, sqlite ? 1 : 0);
  EXPECT_EQ(claimed("gone"), !sqlite);
  EXPECT_TRUE(claimed("alive"));
  EXPECT_TRUE(claimed("elsewhere"));
}

TEST_P(EngineTest, WebhookEventsAreCoalescedDeduplicatedAndEchoesDropped) {
  InitialSync();
  fake_.ResetCounts();
  const int64_t later = kBase + 900'000;
  fake_.Touch("rfis:5", 11, later);
  fake_.HardDelete("rfis:5", 12);
  fake_.Put("rfis:5", 30, later);
  fake_.Touch("users", 102, later);
  fake_.Touch("rfis:6", 21, later);
  fake_.Touch("rfis:6", 22, later);
  fake_.HardDelete("rfis:6", 23);

  Inbox& inbox = engine_->inbox();
  auto first = inbox.Accept(kClient, Event("k1", "RFIs", "update", 11, 5, later));
  ASSERT_TRUE(first);
  EXPECT_FALSE(first->duplicate);
  auto again = inbox.Accept(kClient, Event("k1", "RFIs", "update", 11, 5, later));
  ASSERT_TRUE(again);
  EXPECT_TRUE(again->duplicate);
  ASSERT_TRUE(inbox.Accept(kClient, Event("k2", "RFIs", "update", 11, 5, later)));
  ASSERT_TRUE(inbox.Accept(kClient, Event("k3", "RFIs", "delete", 12, 5, later)));
  ASSERT_TRUE(inbox.Accept(kClient, Event("k4", "RFIs", "create", 30, 5, later)));
  ASSERT_TRUE(inbox.Accept(kClient, Event("k5", "Company Users", "update", 102, std::nullopt, later)));
  ASSERT_TRUE(inbox.Accept(kClient, Event("k6", "Project Users", "update", 102, 5, later)));
  ASSERT_TRUE(inbox.Accept(kClient, Event("k7", "Project Users", "update", 102, 6, later)));
  WebhookEvent echo = Event("k8", "RFIs", "update", 21, 6, later);
  echo.source_application_id = "ktrack-app";
  ASSERT_TRUE(inbox.Accept(kClient, echo));
  ASSERT_TRUE(inbox.Accept(kClient, Event("k9", "Submittals", "update", 99, 5, later)));
  ASSERT_TRUE(inbox.Accept(kClient, Event("k11", "RFIs", "update", 22, 6, later)));
  ASSERT_TRUE(inbox.Accept(kClient, Event("k12", "RFIs", "update", 23, 6, later)));
  EXPECT_TRUE(*inbox.HasPending(kClient));
  EXPECT_FALSE(*inbox.HasPending(kClient + 1));

  Drain();
  // Project 5's RFIs 11 and 30 are re-read together, in one list request filtered by id.
  EXPECT_EQ(fake_.RecordReads("rfis:5", 11), 0);
  EXPECT_EQ(fake_.RecordReads("rfis:5", 30), 0);
  EXPECT_EQ(Reads("/rest/v1.0/projects/5/rfis?", "filters%5Bid%5D"), 1);
  EXPECT_EQ(fake_.RecordReads("rfis:5", 12), 0);  // a delete needs no read
  EXPECT_EQ(fake_.RecordReads("users", 102), 1);  // fan-out fetched once
  EXPECT_EQ(fake_.RecordReads("rfis:6", 21), 0);  // our own write
  // Project 6's list ignores the id filter: its records are read one by one (23 answers 404: deleted).
  EXPECT_EQ(fake_.RecordReads("rfis:6", 22), 1);
  EXPECT_EQ(fake_.RecordReads("rfis:6", 23), 1);
  ExpectTruth("rfis", 5, "rfis:5");
  ExpectTruth("company_users", 0, "users");
  auto rfis6 = engine_->ListRecords(RecordsQuery{kClient, "rfis", 6, 1, 10, false});
  ASSERT_TRUE(rfis6);
  EXPECT_EQ(rfis6->total, 2);  // 21 (kept: the echo) and 22

  auto counts = inbox.Counts(kClient);
  ASSERT_TRUE(counts);
  EXPECT_EQ(counts->pending, 0);
  EXPECT_EQ(counts->dropped, 2);  // the echo and the stream KTrack does not sync
  EXPECT_EQ(counts->done, 9);
  EXPECT_FALSE(*inbox.HasPending(kClient));  // all processed (done or dropped)

  // A redelivery of an event already processed is recognised, and a late duplicate of a processed update
  // needs no fetch.
  auto late = inbox.Accept(kClient, Event("k2", "RFIs", "update", 11, 5, later));
  ASSERT_TRUE(late);
  EXPECT_TRUE(late->duplicate);
  ASSERT_TRUE(inbox.Accept(kClient, Event("k10", "RFIs", "update", 11, 5, later)));
  const int before = fake_.Requests();
  Drain();
  EXPECT_EQ(fake_.Requests(), before);
}

// Each stored event's raw payload is kept once (in webhook_inbox_payloads, by its inbox id, so processing's
// rewrites of the narrow inbox row do not carry it), and leaves with its event when the inbox is purged.
TEST_P(EngineTest, InboxKeepsEachPayloadOnceAndPurgesItWithItsEvent) {
  InitialSync();
  Inbox& inbox = engine_->inbox();
  const int64_t later = kBase + 900'000;
  auto payload_of = [&](int64_t inbox_id) -> std::optional<std::string> {
    auto r = store_->Query("SELECT payload FROM webhook_inbox_payloads WHERE inbox_id = $1", {inbox_id});
    if (!r || r->rows.empty()) return std::nullopt;
    return r->rows[0].Text(0);
  };
  auto count = [&](const char* table) {
    auto r = store_->Query(std::string("SELECT COUNT(*) FROM ") + table);
    return r ? r->rows.at(0).Int(0) : -1;
  };

  auto first = inbox.Accept(kClient, Event("p1", "RFIs", "update", 11, 5, later), R"({"raw":"first"})");
  ASSERT_TRUE(first);
  auto again = inbox.Accept(kClient, Event("p1", "RFIs", "update", 11, 5, later), R"({"raw":"again"})");
  ASSERT_TRUE(again);
  EXPECT_TRUE(again->duplicate);
  EXPECT_EQ(payload_of(first->inbox_id), R"({"raw":"first"})");  // the redelivery's copy is not stored

  // A burst stored by the group commit (several multi-row inserts in one transaction, duplicates among them).
  constexpr int kBurst = 150;
  std::mutex mu;
  std::condition_variable cv;
  int answered = 0;
  std::map<std::string, int64_t> ids;
  for (int i = 0; i < kBurst; ++i) {
    const std::string key = "burst-" + std::to_string(i % 100);
    inbox.AcceptAsync(kClient, Event(key, "RFIs", "update", 11, 5, later), "body of " + key,
                      [&, key](Result<AcceptResult> r) {
                        std::lock_guard lock(mu);
                        if (r && !r->duplicate) ids[key] = r->inbox_id;
                        ++answered;
                        cv.notify_all();
                      });
  }
  {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return answered == kBurst; });
  }
  ASSERT_EQ(ids.size(), 100u);
  for (const auto& [key, id] : ids) EXPECT_EQ(payload_of(id), "body of " + key) << key;
  EXPECT_EQ(count("webhook_inbox_payloads"), count("webhook_inbox"));

  Drain();
  EXPECT_FALSE(*inbox.HasPending(kClient));
  auto purged = inbox.PurgeProcessed(std::numeric_limits<int64_t>::max());
  ASSERT_TRUE(purged);
  EXPECT_EQ(*purged, 101);
  EXPECT_EQ(count("webhook_inbox"), 0);
  EXPECT_EQ(count("webhook_inbox_payloads"), 0);

  // An event stored after the purge gets a new id, not one of a purged event.
  auto after = inbox.Accept(kClient, Event("after-purge", "RFIs", "update", 11, 5, later), "{}");
  ASSERT_TRUE(after);
  EXPECT_FALSE(after->duplicate);
  int64_t largest = first->inbox_id;
  for (const auto& entry : ids) largest = std::max(largest, entry.second);
  EXPECT_GT(after->inbox_id, largest);
}

// A webhook job's claim on its events is renewed while it runs, so a short claim lease (it bounds only how
// soon a crashed job's events are read again) holds however long a read takes.
// What people see of the inbox: a client's newest events first (never another client's), and what became of
// the newest `window` of them.
TEST_P(EngineTest, RecentEventsAreTheClientsNewestWithTheirOutcomes) {
  InitialSync();
  const int64_t later = kBase + 900'000;
  fake_.Touch("rfis:5", 11, later);
  Inbox& inbox = engine_->inbox();
  ASSERT_TRUE(inbox.Accept(kClient, Event("r1", "RFIs", "update", 11, 5, later)));
  WebhookEvent echo = Event("r2", "RFIs", "update", 13, 5, later);
  echo.source_application_id = "ktrack-app";
  ASSERT_TRUE(inbox.Accept(kClient, echo));
  ASSERT_TRUE(inbox.Accept(kClient + 1, Event("other", "RFIs", "update", 11, 5, later)));
  Drain();
  ASSERT_TRUE(inbox.Accept(kClient, Event("r3", "RFIs", "delete", 14, 5, later)));  // not processed yet

  auto recent = inbox.Recent(kClient, 2);
  ASSERT_TRUE(recent) << recent.error().message;
  ASSERT_EQ(recent->events.size(), 2u);
  EXPECT_EQ(recent->events[0].resource_id, 14);
  EXPECT_EQ(recent->events[0].status, "pending");
  EXPECT_EQ(recent->events[0].outcome, "");
  EXPECT_EQ(recent->events[1].resource_id, 13);
  EXPECT_EQ(recent->events[1].status, "dropped");
  EXPECT_EQ(recent->events[1].outcome, "echo");
  EXPECT_EQ(recent->events[1].project_id, 5);
  EXPECT_TRUE(recent->events[1].processed_at_ms);
  EXPECT_EQ(recent->window, 3);
  EXPECT_EQ(recent->counts.pending, 1);
  EXPECT_EQ(recent->counts.done, 1);
  EXPECT_EQ(recent->counts.dropped, 1);
  EXPECT_EQ(recent->by_outcome, (std::vector<std::pair<std::string, int64_t>>{{"echo", 1}, {"fetched", 1}}));

  auto narrow = inbox.Recent(kClient, 10, /*window=*/1);
  ASSERT_TRUE(narrow);
  EXPECT_EQ(narrow->events.size(), 3u);
  EXPECT_EQ(narrow->window, 1);
  EXPECT_EQ(narrow->counts.pending, 1);
  EXPECT_TRUE(narrow->by_outcome.empty());
}

TEST_P(EngineTest, AWebhookJobKeepsItsClaimAliveWhileAReadTakesLongerThanTheLease) {
  options_.inbox_claim_lease = Millis(300);
  RebuildEngine();
  InitialSync();
  const int64_t later = kBase + 900'000;
  fake_.Touch("rfis:5", 11, later);
  ASSERT_TRUE(engine_->inbox().Accept(kClient, Event("slow", "RFIs", "update", 11, 5, later)));

  // The re-read takes three leases: the clock moves on a whole second meanwhile.
  std::atomic<int64_t> claimed_until_while_reading{0};
  std::atomic<int64_t> now_while_reading{0};
  fake_.on_send = [&](const http::ClientRequest& request) {
    if (request.url.find("/rfis") == std::string::npos || now_while_reading != 0) return;
    clock_.Advance(Millis(1000));
    std::this_thread::sleep_for(std::chrono::milliseconds(900));
    auto r = store_->Query("SELECT claimed_until FROM webhook_inbox WHERE status = 'pending'");
    if (r && !r->empty()) claimed_until_while_reading = r->rows[0].Int(0);
    now_while_reading = clock_.NowUnixMs();
  };
  Drain();
  fake_.on_send = nullptr;
  ASSERT_NE(now_while_reading, 0) << "the event's record was not re-read";
  EXPECT_GT(claimed_until_while_reading, now_while_reading) << "the claim lapsed while its job was reading";
  ExpectTruth("rfis", 5, "rfis:5");
  auto counts = engine_->inbox().Counts(kClient);
  ASSERT_TRUE(counts);
  EXPECT_EQ(counts->pending, 0);
  EXPECT_EQ(counts->done, 1);
}

// Under a flood of deliveries, processing waits for it to ease (not for its longest wait), reading nothing
// meanwhile, then processes every event.
TEST_P(EngineTest, WebhookProcessingWaitsOutAFloodOfDeliveriesThenCatchesUp) {
  options_.webhook_flood_rate = 20;                        // deliveries a second
  options_.webhook_flood_wait = std::chrono::seconds(30);  // so only the flood's end lets it go
  options_.webhook_batch = 5;                              // the old code's batches went at once
  RebuildEngine();
  InitialSync();
  const int64_t later = kBase + 900'000;
  fake_.Touch("rfis:5", 11, later);
  fake_.Touch("rfis:5", 12, later);

  std::atomic<bool> flooding{true};
  std::atomic<int> reads_during_flood{0};
  std::atomic<int64_t> flood_ended_ns{0};
  fake_.on_send = [&](const http::ClientRequest& request) {
    if (flooding && request.url.find("/rfis") != std::string::npos) ++reads_during_flood;
  };
  constexpr int kEvents = 120;  // 100 a second for 1.2 s
  ASSERT_TRUE(engine_->inbox().Accept(kClient, Event("flood-0", "RFIs", "update", 11, 5, later)));
  std::thread feeder([&] {
    for (int i = 1; i < kEvents; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      EXPECT_TRUE(engine_->inbox().Accept(
          kClient, Event("flood-" + std::to_string(i), "RFIs", "update", 11 + i % 2, 5, later)));
    }
    flooding = false;
    flood_ended_ns = std::chrono::steady_clock::now().time_since_epoch().count();
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // the flood is on
  Drain();
  const auto drained = std::chrono::steady_clock::now();
  feeder.join();
  fake_.on_send = nullptr;

  EXPECT_EQ(reads_during_flood.load(), 0);
  ASSERT_NE(flood_ended_ns.load(), 0);
  const auto after_flood = drained.time_since_epoch() - std::chrono::nanoseconds(flood_ended_ns.load());
  EXPECT_LT(after_flood, std::chrono::seconds(10)) << "released by the flood's end, not the longest wait";
  ExpectTruth("rfis", 5, "rfis:5");
  auto counts = engine_->inbox().Counts(kClient);
  ASSERT_TRUE(counts);
  EXPECT_EQ(counts->pending, 0);
  EXPECT_EQ(counts->done, kEvents);
}

// Group commit: deliveries accepted from many threads at once are committed together, yet each caller is
// answered for its own event (new or duplicate), every new event is stored once, and the wake hook fires.
TEST_P(EngineTest, ConcurrentDeliveriesAreEachStoredOnceAndAnsweredForThemselves) {
  Inbox& inbox = engine_->inbox();
  std::atomic<int> wakes{0};
  inbox.SetWakeHook([&](Millis delay) {
    EXPECT_GT(delay.count(), 0);
    ++wakes;
  });
  constexpr int kThreads = 8;
  constexpr int kPerThread = 40;
  std::atomic<int> fresh{0}, duplicates{0}, failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        // Threads 2k and 2k+1 deliver the same keys (Procore redelivering while the first is in flight).
        const std::string key = "c" + std::to_string(t / 2) + "-" + std::to_string(i);
        auto r = inbox.Accept(kClient, Event(key, "RFIs", "update", 11, 5, kBase + i));
        if (!r) {
          ++failures;
        } else if (r->duplicate) {
          EXPECT_EQ(r->inbox_id, 0);
          ++duplicates;
        } else {
          EXPECT_GT(r->inbox_id, 0);
          ++fresh;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  inbox.SetWakeHook(nullptr);
  EXPECT_EQ(failures, 0);
  EXPECT_EQ(fresh, kThreads / 2 * kPerThread);
  EXPECT_EQ(duplicates, kThreads / 2 * kPerThread);
  // The worker is woken once per committed batch that stored something new, not once per event.
  EXPECT_GE(wakes, 1);
  EXPECT_LE(wakes, fresh.load());
  auto counts = inbox.Counts(kClient);
  ASSERT_TRUE(counts);
  EXPECT_EQ(counts->pending, kThreads / 2 * kPerThread);

  // An incomplete event is refused before it joins a batch.
  auto bad = inbox.Accept(kClient, Event("", "RFIs", "update", 11, 5, kBase));
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, "invalid_webhook_event");
  auto after = inbox.Counts(kClient);
  ASSERT_TRUE(after);
  EXPECT_EQ(after->pending, counts->pending);  // nothing stored
}

TEST_P(EngineTest, AsyncAcceptsAnswerEachCallerOnceAfterTheBatchIsStored) {
  Inbox& inbox = engine_->inbox();
  // 150 events (multi-row inserts of 64, 16, 4 and 1 rows), every third one sent twice within the burst, and
  // one key stored before the burst.
  ASSERT_TRUE(inbox.Accept(kClient, Event("early", "RFIs", "update", 11, 5, kBase)));
  struct Answer {
    std::optional<Result<AcceptResult>> result;
    int calls = 0;
  };
  std::mutex mu;
  std::condition_variable cv;
  std::vector<Answer> answers(201);
  int answered = 0;
  std::vector<std::string> keys;
  for (int i = 0; i < 150; ++i) {
    keys.push_back("burst-" + std::to_string(i));
    if (i % 3 == 0) keys.push_back("burst-" + std::to_string(i));
  }
  keys.push_back("early");
  ASSERT_EQ(keys.size(), answers.size());
  for (size_t i = 0; i < keys.size(); ++i) {
    inbox.AcceptAsync(kClient, Event(keys[i], "RFIs", "update", 11, 5, kBase + static_cast<int64_t>(i)), "",
                      [&, i](Result<AcceptResult> r) {
                        std::lock_guard lock(mu);
                        answers[i].result = std::move(r);
                        ++answers[i].calls;
                        ++answered;
                        cv.notify_all();
                      });
  }
  {
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(30), [&] { return answered == 201; }));
  }
  std::set<int64_t> ids;
  std::map<std::string, int> fresh_per_key;
  for (size_t i = 0; i < keys.size(); ++i) {
    ASSERT_EQ(answers[i].calls, 1) << keys[i];
    ASSERT_TRUE(answers[i].result && *answers[i].result) << keys[i];
    const AcceptResult& r = **answers[i].result;
    if (!r.duplicate) {
      EXPECT_TRUE(ids.insert(r.inbox_id).second) << "inbox id given twice: " << r.inbox_id;
      ++fresh_per_key[keys[i]];
    }
  }
  EXPECT_EQ(fresh_per_key.size(), 150u);  // each burst key stored once, "early" not again
  EXPECT_EQ(fresh_per_key.count("early"), 0u);
  auto counts = inbox.Counts(kClient);
  ASSERT_TRUE(counts);
  EXPECT_EQ(counts->pending, 151);

  // An incomplete event is answered at once, on the caller's thread.
  bool refused = false;
  inbox.AcceptAsync(kClient, Event("", "RFIs", "update", 11, 5, kBase), "",
                    [&](Result<AcceptResult> r) { refused = !r; });
  EXPECT_TRUE(refused);
}

TEST_P(EngineTest, AReadStartedBeforeADeleteDoesNotBringTheRecordBack) {
  InitialSync();
  const int64_t later = kBase + 900'000;
  // A delete event for a record the sync has not seen yet leaves a tombstone...
  ASSERT_TRUE(engine_->inbox().Accept(kClient, Event("d1", "RFIs", "delete", 19, 5, later)));
  Drain();
  // ...so an older copy of it (from a page read before the delete) stays deleted.
  Status s = store_->Transact([&](store::Tx& tx) -> Status {
    std::string json = R"({"id":19,"updated_at":"2020-09-13T12:26:40Z"})";
    IncomingRecord rec{19, "2020-09-13T12:26:40Z", "", json};
    auto w =
        UpsertRecords(tx, RecordScope{kClient, kCompany, "rfis", 5}, std::span(&rec, 1), clock_.NowUnixMs());
    if (!w) return tl::unexpected(w.error());
    return {};
  });
  ASSERT_TRUE(s);
  ExpectTruth("rfis", 5, "rfis:5");
}

TEST_P(EngineTest, PermissionErrorsShowAFixAndRetryLaterNotHot) {
  fake_.FailPath("/rest/v1.0/projects/6/rfis", 403,
                 R"({"errors":"You do not have permission to view RFIs"})");
  fake_.FailPath("/rest/v1.0/settings/permissions", 403, R"({"errors":"forbidden"})");
  ASSERT_TRUE(engine_->ApplyScope(Scope()));
  RunDue();
  auto streams = Streams();
  const StreamStatus rfis6 = At(streams, "rfis", 6);
  EXPECT_EQ(rfis6.status, "error");
  ASSERT_TRUE(rfis6.error);
  // The project's permission manifest is refused too, which is how Procore answers for a project outside the
  // app's permitted projects: the fix names the project and where to add it.
  EXPECT_EQ(rfis6.error->code, "project_not_permitted");
  EXPECT_NE(rfis6.error->fix.find("'Project 6'"), std::string::npos) << rfis6.error->fix;
  EXPECT_NE(rfis6.error->fix.find("permitted projects"), std::string::npos) << rfis6.error->fix;
  EXPECT_EQ(At(streams, "rfis", 5).status, "synced");

  // Nothing runs again until the backoff has passed.
  const int before = fake_.Requests();
  EXPECT_EQ(RunDue(), 0);
  clock_.Advance(Millis(30'000));
  EXPECT_EQ(RunDue(), 0);
  EXPECT_EQ(fake_.Requests(), before);

  fake_.ClearFailures();
  clock_.Advance(Millis(31'000));
  RunDue();
  streams = Streams();
  EXPECT_EQ(At(streams, "rfis", 6).status, "synced");
  EXPECT_FALSE(At(streams, "rfis", 6).error);
  ExpectTruth("rfis", 6, "rfis:6");
}

// A webhook's re-read refused for want of a permission drops its events, and the stream says so: it reads
// again (reconciliation), shows the permission's fix while Procore still refuses, and catches up with the
// change the dropped events announced once the permission is back, without waiting for the reconciliation
// interval.
TEST_P(EngineTest, AWebhookReadRefusedForPermissionShowsTheFixAndCatchesUpOnceFixed) {
  InitialSync();
  const int64_t later = kBase + 900'000;
  fake_.Touch("rfis:6", 22, later);
  fake_.FailPath("/rest/v1.0/projects/6/rfis", 403,
                 R"({"errors":"You do not have permission to view RFIs"})");
  ASSERT_TRUE(engine_->inbox().Accept(kClient, Event("perm", "RFIs", "update", 22, 6, later)));
  RunDue();
  clock_.Advance(Millis(1'000));
  RunDue();
  auto counts = engine_->inbox().Counts(kClient);
  ASSERT_TRUE(counts);
  EXPECT_EQ(counts->pending, 0);
  EXPECT_EQ(counts->dropped, 1);
  StreamStatus rfis6 = At(Streams(), "rfis", 6);
  EXPECT_EQ(rfis6.status, "error");
  EXPECT_TRUE(rfis6.error) << "the stream does not say why its change was not fetched";
  if (rfis6.error) {
    EXPECT_NE(rfis6.error->fix.find("'Project 6'"), std::string::npos) << rfis6.error->fix;
  }

  // More events while the stream waits for the fix: the stream keeps to its backoff rather than reading its
  // list again at each batch.
  const std::string list = "/rest/v1.0/projects/6/rfis?";
  const int reads_before = Reads(list);
  for (int i = 1; i <= 3; ++i) {
    ASSERT_TRUE(engine_->inbox().Accept(
        kClient, Event("perm" + std::to_string(i), "RFIs", "update", 22, 6, later + i)));
    clock_.Advance(Millis(1'000));
    RunDue();
  }
  EXPECT_EQ(Reads(list), reads_before);

  fake_.ClearFailures();
  clock_.Advance(Millis(61'000));
  RunDue();
  EXPECT_EQ(At(Streams(), "rfis", 6).status, "synced");
  ExpectTruth("rfis", 6, "rfis:6");
}

// Procore answers 404 for a list KTrack can no longer see at all (a project gone, or out of the app's reach).
// That is not an outage to retry: the events are dropped (they stayed pending, re-read in vain on every
// retry), the stream reads again to say what is wrong, and the client's other events go on being processed.
TEST_P(EngineTest, AWebhookListAnswered404IsDroppedAndItsStreamSaysWhy) {
  InitialSync();
  const int64_t later = kBase + 900'000;
  fake_.Touch("rfis:5", 11, later);
  fake_.Touch("rfis:5", 12, later);
  fake_.FailPath("/rest/v1.0/projects/6/rfis", 404, R"({"errors":"Not Found"})");
  Inbox& inbox = engine_->inbox();
  ASSERT_TRUE(inbox.Accept(kClient, Event("gone-a", "RFIs", "update", 21, 6, later)));
  ASSERT_TRUE(inbox.Accept(kClient, Event("gone-b", "RFIs", "update", 22, 6, later)));
  ASSERT_TRUE(inbox.Accept(kClient, Event("ok-1", "RFIs", "update", 11, 5, later)));
  clock_.Advance(Millis(1'000));
  RunDue();
  auto counts = inbox.Counts(kClient);
  ASSERT_TRUE(counts);
  EXPECT_EQ(counts->pending, 0) << "events for the list Procore cannot show stay pending";
  EXPECT_EQ(counts->done, 1);

  // A later event of another project is processed within its coalescing window, not after a retry backoff.
  ASSERT_TRUE(inbox.Accept(kClient, Event("ok-2", "RFIs", "update", 12, 5, later)));
  clock_.Advance(Millis(1'000));
  RunDue();
  counts = inbox.Counts(kClient);
  ASSERT_TRUE(counts);
  EXPECT_EQ(counts->pending, 0);
  EXPECT_EQ(counts->done, 2);
  ExpectTruth("rfis", 5, "rfis:5");
  // The stream Procore will not show reads again and says so.
  EXPECT_EQ(At(Streams(), "rfis", 6).status, "error");
}

// A record Procore answered in a shape KTrack cannot read (here: no id) is not stored, and its event is
// dropped; the stream reads its list again, so the change still arrives (or the stream shows what is wrong)
// without waiting for the next scheduled reconciliation.
TEST_P(EngineTest, AWebhookReReadAnsweredUnreadablyIsDroppedAndItsStreamReadsAgain) {
  InitialSync();
  const int64_t later = kBase + 900'000;
  fake_.Touch("rfis:5", 11, later);
  fake_.FailPath("/rest/v1.0/projects/5/rfis/11", 200, R"({"title":"a record without its id"})");
  const int lists_before = Reads("/rest/v1.0/projects/5/rfis?");
  ASSERT_TRUE(engine_->inbox().Accept(kClient, Event("odd", "RFIs", "update", 11, 5, later)));
  Drain();
  auto counts = engine_->inbox().Counts(kClient);
  ASSERT_TRUE(counts);
  EXPECT_EQ(counts->pending, 0);
  EXPECT_EQ(counts->dropped, 1);
  EXPECT_EQ(fake_.RecordReads("rfis:5", 11), 1);
  EXPECT_GT(Reads("/rest/v1.0/projects/5/rfis?"), lists_before) << "the stream did not read its list again";
  ExpectTruth("rfis", 5, "rfis:5");
}

// Procore does not answer the re-read: the event waits, processing retries after a backoff and says why
// (ProcessingRetryOf); once Procore answers again, RetryNow (the health check's) runs it at once, not at the
// end of its backoff.
TEST_P(EngineTest, WebhookProcessingWaitingOnAnOutageSaysWhyAndRunsAtOnceWhenRetriedNow) {
  InitialSync();
  const int64_t later = kBase + 900'000;
  fake_.Touch("rfis:5", 11, later);
  fake_.FailPath("/rest/v1.0/projects/5/rfis", 503, R"({"errors":"down for maintenance"})");
  ASSERT_TRUE(engine_->inbox().Accept(kClient, Event("down", "RFIs", "update", 11, 5, later)));
  auto none = engine_->inbox().ProcessingRetryOf(kClient);
  ASSERT_TRUE(none);
  EXPECT_FALSE(*none) << "nothing failed yet";
  clock_.Advance(Millis(5'000));  // past the coalescing window
  RunDue();
  auto waiting = engine_->inbox().ProcessingRetryOf(kClient);
  ASSERT_TRUE(waiting);
  ASSERT_TRUE(*waiting) << "the failed attempt says why the event waits";
  EXPECT_EQ((*waiting)->code, "procore_unavailable");
  EXPECT_GE((*waiting)->failed_attempts, 1);
  EXPECT_GE((*waiting)->retry_at_ms, clock_.NowUnixMs());
  auto counts = engine_->inbox().Counts(kClient);
  ASSERT_TRUE(counts);
  EXPECT_EQ(counts->pending, 1);

  // Procore answers again; without moving the clock, RetryNow brings the processing forward.
  fake_.ClearFailures();
  ASSERT_TRUE(engine_->RetryNow(kClient));
  RunDue();
  counts = engine_->inbox().Counts(kClient);
  ASSERT_TRUE(counts);
  EXPECT_EQ(counts->pending, 0);
  EXPECT_EQ(counts->done, 1);
  auto after = engine_->inbox().ProcessingRetryOf(kClient);
  ASSERT_TRUE(after);
  EXPECT_FALSE(*after);
  ExpectTruth("rfis", 5, "rfis:5");
}

// Events that arrive while the integration's credentials cannot be used (not verified again yet, or the
// server lacks the Marketplace app's) are dropped saying why, and the streams reconcile once the credentials
// work: what the events announced is not lost. Without an integration at all they are dropped as such.
TEST_P(EngineTest, EventsWhileTheCredentialsCannotBeUsedAreDroppedSayingWhyAndCaughtUpAfter) {
  InitialSync();
  const int64_t later = kBase + 900'000;
  fake_.HardDelete("rfis:5", 12);  // only a reconciliation finds a record gone without a trace
  source_.refuse =
      Fail(ErrorKind::kConflict, "marketplace_app_not_configured", "No Marketplace app.").value();
  ASSERT_TRUE(engine_->inbox().Accept(kClient, Event("m1", "RFIs", "delete", 12, 5, later)));
  clock_.Advance(Millis(1'000));
  RunDue();
  auto recent = engine_->inbox().Recent(kClient, 1);
  ASSERT_TRUE(recent);
  ASSERT_EQ(recent->events.size(), 1u);
  EXPECT_EQ(recent->events[0].status, "dropped");
  EXPECT_EQ(recent->events[0].outcome, "marketplace_app_not_configured");

  source_.refuse.reset();
  for (int i = 0; i < 60; ++i) {
    clock_.Advance(Millis(60'000));
    RunDue();
  }
  ExpectTruth("rfis", 5, "rfis:5");

  source_.refuse = Fail(ErrorKind::kNotFound, "integration_not_found", "No integration.").value();
  ASSERT_TRUE(engine_->inbox().Accept(kClient, Event("m2", "RFIs", "update", 11, 5, later)));
  clock_.Advance(Millis(1'000));
  RunDue();
  recent = engine_->inbox().Recent(kClient, 1);
  ASSERT_TRUE(recent);
  ASSERT_EQ(recent->events.size(), 1u);
  EXPECT_EQ(recent->events[0].outcome, "no_integration");
}

TEST_P(EngineTest, RateLimitedStreamsSayUntilWhenAndResume) {
  fake_.FailPath("/rest/v1.0/cost_codes", 429,
                 R"({"errors":"You have surpassed the max number of requests"})");
  ASSERT_TRUE(engine_->ApplyScope(Scope()));
  RunDue();
  auto streams = Streams();
  EXPECT_EQ(At(streams, "cost_codes", 5).status, "rate_limited");
  ASSERT_TRUE(At(streams, "cost_codes", 5).rate_limited_until_ms);
  EXPECT_GT(*At(streams, "cost_codes", 5).rate_limited_until_ms, clock_.NowUnixMs());
  EXPECT_EQ(StreamStatusJson(At(streams, "cost_codes", 5))["status"], "rate_limited");

  fake_.ClearFailures();
  Drain();
  ExpectAllTruth();
}

TEST_P(EngineTest, ScopeChangesPauseWithoutDeletingAndResume) {
  InitialSync();
  ASSERT_TRUE(engine_->ApplyScope(Scope({5})));
  auto streams = Streams();
  EXPECT_EQ(At(streams, "rfis", 6).status, "paused");
  EXPECT_EQ(At(streams, "rfis", 6).count, 3);
  RecordsQuery q{kClient, "rfis", 6, 1, 10, false};
  auto records = engine_->ListRecords(q);
  ASSERT_TRUE(records);
  EXPECT_EQ(records->total, 3);

  fake_.Put("rfis:6", 24, kBase + 800'000);
  ASSERT_TRUE(engine_->ApplyScope(Scope({5, 6})));
  Drain();
  ExpectTruth("rfis", 6, "rfis:6");
  EXPECT_EQ(At(Streams(), "rfis", 6).status, "synced");
}

TEST_P(EngineTest, ListRecordsFindsTheRecordsWhoseJsonHasTheText) {
  fake_.Put("rfis:5", 77, kBase, "Drainage SLOPE at 100% of Level_3");
  InitialSync();
  auto find = [&](const std::string& text) {
    RecordsQuery q{kClient, "rfis", std::nullopt, 1, 100, false};
    q.search = text;
    auto page = engine_->ListRecords(q);
    EXPECT_TRUE(page) << text;
    std::vector<int64_t> ids;
    if (page)
      for (const auto& r : page->records) ids.push_back(r.procore_id);
    return ids;
  };
  EXPECT_EQ(find("drainage slope"), std::vector<int64_t>{77});  // any case
  EXPECT_EQ(find("100%"), std::vector<int64_t>{77});            // '%' is the text, not a wildcard
  EXPECT_EQ(find("%"), std::vector<int64_t>{77});
  EXPECT_EQ(find("level_3"), std::vector<int64_t>{77});  // '_' too
  EXPECT_EQ(find("level!3"), std::vector<int64_t>{});    // and the escape character
  EXPECT_EQ(find("\"id\":14,"), std::vector<int64_t>{14});
  EXPECT_EQ(find("").size(), 11u);  // no text: every record
}

TEST_P(EngineTest, ListRecordsPagesAndRendersTheProcoreJson) {
  InitialSync();
  RecordsQuery q{kClient, "rfis", 5, 2, 3, false};
  auto page = engine_->ListRecords(q);
  ASSERT_TRUE(page);
  EXPECT_EQ(page->total, 7);
  ASSERT_EQ(page->records.size(), 3u);
  EXPECT_EQ(page->records[0].procore_id, 14);
  auto j = nlohmann::json::parse(RecordsPageJson(*page));
  EXPECT_EQ(j["records"][0]["record"]["id"], 14);
  EXPECT_EQ(j["records"][0]["project_id"], 5);
  EXPECT_EQ(j["total"], 7);

  RecordsQuery all{kClient, "rfis", std::nullopt, 1, 100, false};
  auto both = engine_->ListRecords(all);
  ASSERT_TRUE(both);
  EXPECT_EQ(both->total, 10);
  RecordsQuery bad{kClient, "nope", std::nullopt, 1, 100, false};
  auto refused = engine_->ListRecords(bad);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, "unknown_stream");
}

TEST_P(EngineTest, PurgesForgetAProjectOrAClient) {
  InitialSync();
  // One event processed, one waiting: a client's purge forgets both, with their payloads.
  ASSERT_TRUE(engine_->inbox().Accept(kClient, Event("e1", "RFIs", "update", 11, 5, kBase + 900'000)));
  Drain();
  ASSERT_TRUE(engine_->inbox().Accept(kClient, Event("e2", "RFIs", "update", 12, 5, kBase + 900'000)));
  ASSERT_TRUE(engine_->PurgeProject(kClient, 6));
  auto streams = Streams();
  EXPECT_EQ(streams.count({"rfis", 6}), 0u);
  EXPECT_EQ(streams.count({"rfis", 5}), 1u);
  ASSERT_TRUE(engine_->PurgeClient(kClient));
  EXPECT_TRUE(Streams().empty());
  for (const char* table : {"procore_records", "record_pages", "webhook_inbox", "webhook_inbox_payloads"}) {
    auto left =
        store_->Query(std::string("SELECT count(*) FROM ") + table + " WHERE client_id = $1", {kClient});
    ASSERT_TRUE(left);
    EXPECT_EQ(left->rows[0].Int(0), 0) << table;
  }
}

// A project unlinked (its data purged) while a webhook job re-reads its records: what the read brings back is
// not written for a stream that is gone, whether the records came in one filtered list (project 5) or one by
// one (project 6's list ignores the id filter), and the events are dropped as out of scope.
TEST_P(EngineTest, ARecordReadWhileItsProjectIsPurgedIsNotWrittenBack) {
  InitialSync();
  const int64_t later = kBase + 900'000;
  fake_.Touch("rfis:5", 11, later);
  fake_.Touch("rfis:6", 22, later);
  ASSERT_TRUE(engine_->inbox().Accept(kClient, Event("p5", "RFIs", "update", 11, 5, later)));
  ASSERT_TRUE(engine_->inbox().Accept(kClient, Event("p6", "RFIs", "update", 22, 6, later)));
  ASSERT_TRUE(engine_->inbox().Accept(kClient, Event("p6d", "RFIs", "delete", 23, 6, later)));
  std::set<int64_t> purged;
  std::mutex mu;
  fake_.on_send = [&](const http::ClientRequest& request) {
    for (int64_t project : {5, 6}) {
      if (request.url.find("/projects/" + std::to_string(project) + "/rfis") == std::string::npos) continue;
      std::lock_guard lock(mu);
      if (purged.insert(project).second) {
        EXPECT_TRUE(engine_->PurgeProject(kClient, project));
      }
    }
  };
  Drain();
  fake_.on_send = nullptr;
  EXPECT_EQ(purged, (std::set<int64_t>{5, 6}));
  for (const char* table : {"procore_records", "record_pages"}) {
    auto left = store_->Query(
        std::string("SELECT count(*) FROM ") + table + " WHERE client_id = $1 AND project_id IN (5, 6)",
        {kClient});
    ASSERT_TRUE(left);
    EXPECT_EQ(left->rows[0].Int(0), 0) << "records were written back for a purged project in " << table;
  }
  auto counts = engine_->inbox().Counts(kClient);
  ASSERT_TRUE(counts);
  EXPECT_EQ(counts->pending, 0);
}

TEST_P(EngineTest, TickQueuesDueReconciliations) {
  InitialSync();
  fake_.Put("rfis:6", 25, kBase + 800'000);
  ASSERT_TRUE(engine_->Tick());
  RunDue();
  EXPECT_EQ(At(Streams(), "rfis", 6).count, 3);  // not due yet
  clock_.Advance(Millis(3'601'000));
  ASSERT_TRUE(engine_->Tick());
  Drain();
  ExpectTruth("rfis", 6, "rfis:6");
}

TEST_P(EngineTest, TickRevivesAStreamWhoseJobWasLost) {
  ASSERT_TRUE(engine_->ApplyScope(Scope()));
  // Every queued job dead-lettered (e.g. the database was down through all its attempts).
  ASSERT_TRUE(store_->Exec("UPDATE jobs SET status = 'dead' WHERE status = 'pending'"));
  EXPECT_EQ(RunDue(), 0);
  ASSERT_TRUE(engine_->Tick());
  EXPECT_EQ(RunDue(), 0);  // not yet: only after stuck_after without progress
  clock_.Advance(options_.stuck_after + Millis(1000));
  ASSERT_TRUE(engine_->Tick());
  Drain();
  ExpectAllTruth();
}

INSTANTIATE_TEST_SUITE_P(Backends, EngineTest, ::testing::Values("sqlite", "postgres"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace kt::sync::testing
