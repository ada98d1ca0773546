// Issue 7's checks against `ktrack serve`: a thousand changes announced by webhooks (a fifth of them
// delivered twice) are in KTrack within 10 s with each record fetched at most twice; ten thousand bad
// requests change nothing and leave the server healthy; deliveries answered just before a SIGKILL are stored
// once the server is started again.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "../integration/webhook_delivery.h"
#include "../integration/webhook_secret.h"
#include "http/client.h"
#include "reliability_env.h"
#include "store/store.h"

namespace kt::testing {
namespace {

using nlohmann::json;

TEST(WebhookReliability, AThousandChangesWithDuplicatesConvergeWithinTenSeconds) {
  ReliabilityEnv env;
  ASSERT_NO_FATAL_FAILURE(env.Start({.preset = "small"}));
  ASSERT_NO_FATAL_FAILURE(env.Connect());
  ConvergenceReport report;
  ASSERT_TRUE(env.WaitConverged(std::chrono::seconds(120), &report)) << report.Describe();

  env.emulator.Faults({{"webhook_duplicate_rate", 0.2}});
  env.emulator.ResetStats();
  const auto start = std::chrono::steady_clock::now();
  ASSERT_EQ(env.emulator.Changes(1000, 9), 1000);
  // Polled by hand to also see when Procore's deliveries were all acknowledged.
  auto since_start = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  double delivered_s = -1;
  const bool converged = WaitUntil(
      [&] {
        const json deliveries = env.emulator.Stats().at("webhook_deliveries");
        if (delivered_s < 0 && deliveries.value("queued", 1) == 0 && deliveries.value("succeeded", 0) >= 1000)
          delivered_s = since_start();
        report = env.Check();
        return report.Converged();
      },
      std::chrono::seconds(60));
  const double seconds = since_start();
  ASSERT_TRUE(converged) << report.Describe();
  RecordProperty("converged_s", std::to_string(seconds));
  const json sent = env.emulator.Stats();
  std::printf(
      "[ figures  ] 1,000 changes converged in %.2f s (deliveries acknowledged after %.2f s; %lld "
      "requests to Procore)\n",
      seconds, delivered_s, static_cast<long long>(sent.at("requests").get<int64_t>()));

  const json stats = env.emulator.Stats();
  std::printf("[ figures  ] requests by path: %s\n", stats.at("by_path").dump().c_str());
  EXPECT_GT(stats.at("webhook_deliveries").value("duplicated", 0), 0) << "the duplicates were sent";
  int64_t most = 0, over = 0;
  for (const auto& [id, n] : env.RecordFetches()) {
    most = std::max(most, n);
    if (n > 2) ++over;
  }
  EXPECT_LE(most, 2) << over << " records were fetched more than twice";
  EXPECT_LE(stats.at("max_record_count").get<int64_t>(), 2);
  EXPECT_EQ(stats.at("rate_limited").get<int64_t>(), 0);
  // Issue 7 asks for 10 s. At Procore's default budget (100 requests per 10 s, fixed windows) KTrack gathers
  // the burst before its first read and re-reads each (stream, project) pair once, about 40 requests: ~1 s.
  EXPECT_LE(seconds, 10.0) << stats.at("requests") << " requests at 100 per 10 s; by path "
                           << stats.at("by_path").dump();
}

// Row counts of every table, and of the jobs other than the periodic delivery health check (which runs on its
// own schedule whatever arrives).
std::map<std::string, int64_t> TableCounts(ReliabilityEnv& env) {
  std::map<std::string, int64_t> out;
  auto store = store::OpenStore(env.database());
  EXPECT_TRUE(store);
  if (!store) return out;
  auto tables = (*store)->Query("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name");
  EXPECT_TRUE(tables);
  for (const auto& row : tables->rows) {
    const std::string table = row.Text(0);
    const std::string where = table == "jobs" ? " WHERE kind <> 'integration.delivery_health'" : "";
    auto n = (*store)->Query("SELECT count(*) FROM " + table + where);
    out[table] = n ? n->rows[0].Int(0) : -1;
  }
  return out;
}

// Starts the `small` company, connected and synced; the webhook destination and the Authorization header
// Procore sends to it.
void StartSynced(ReliabilityEnv& env, std::string& url, std::string& bearer) {
  ASSERT_NO_FATAL_FAILURE(env.Start({.preset = "small"}));
  ASSERT_NO_FATAL_FAILURE(env.Connect());
  ConvergenceReport report;
  ASSERT_TRUE(env.WaitConverged(std::chrono::seconds(120), &report)) << report.Describe();
  url = env.webhook_url();
  ASSERT_FALSE(url.empty());
  bearer = "Bearer " + ReadWebhookSecret(env.data_dir(), env.tenant.client_id);
}

TEST(WebhookReliability, TenThousandBadRequestsChangeNothing) {
  ReliabilityEnv env;
  std::string url, bearer;
  ASSERT_NO_FATAL_FAILURE(StartSynced(env, url, bearer));
  const std::string unknown = env.base_url + "/webhooks/procore/no-such-integration-key-at-all";
  const std::string event = RfiUpdateDelivery(env.emulator.company_id, env.emulator.project_ids[0], 123456789,
                                              "01J00000000000000123456789");
  const std::string oversized = std::string(300 * 1024, ' ') + event;
  struct Bad {
    std::string name, url, body, auth, type;
    int expected;
  };
  const std::vector<Bad> kinds = {
      {"wrong secret", url, event, "Bearer not-the-secret", "application/json", 401},
      {"malformed JSON", url, "{\"id\": 1, \"ulid\": ", bearer, "application/json", 400},
      {"oversized body", url, oversized, bearer, "application/json", 413},
      {"wrong content type", url, event, bearer, "text/plain", 415},
      {"unknown integration key", unknown, event, bearer, "application/json", 404}};
  // Quiet first: nothing of the sync left to write.
  std::this_thread::sleep_for(std::chrono::seconds(2));
  const auto before = TableCounts(env);

  constexpr int kPerKind = 2000, kConnections = 8;
  std::mutex mu;
  std::map<std::string, std::map<int, int>> statuses;  // kind -> status -> count
  std::atomic<int> next{0};
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  for (int c = 0; c < kConnections; ++c) {
    threads.emplace_back([&] {
      std::map<std::string, std::map<int, int>> mine;
      for (int i = next++; i < kPerKind * static_cast<int>(kinds.size()); i = next++) {
        const Bad& bad = kinds[static_cast<size_t>(i) % kinds.size()];
        http::ClientRequest r;
        r.method = "POST";
        r.url = bad.url;
        r.body = bad.body;
        r.timeout = std::chrono::seconds(30);
        r.headers.Add("Content-Type", bad.type);
        r.headers.Add("Authorization", bad.auth);
        ++mine[bad.name][http::Fetch(r).status];
      }
      std::lock_guard lock(mu);
      for (const auto& [name, by_status] : mine)
        for (const auto& [status, n] : by_status) statuses[name][status] += n;
    });
  }
  for (auto& t : threads) t.join();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("[ figures  ] %d bad requests over %d connections in %.2f s\n",
              kPerKind * static_cast<int>(kinds.size()), kConnections, seconds);

  for (const Bad& bad : kinds) {
    EXPECT_EQ(statuses[bad.name], (std::map<int, int>{{bad.expected, kPerKind}})) << bad.name;
  }
  EXPECT_TRUE(env.ServerRunning());
  EXPECT_EQ(Call("GET", env.base_url + "/healthz").status, 200);
  EXPECT_EQ(TableCounts(env), before) << "a rejected request recorded something";
  // And a good delivery is still accepted.
  http::ClientRequest good;
  good.method = "POST";
  good.url = url;
  good.body = event;
  good.headers.Add("Content-Type", "application/json");
  good.headers.Add("Authorization", bearer);
  EXPECT_EQ(http::Fetch(good).status, 200);
}

// The event keys of webhook_inbox starting with `prefix`, as the database holds them now.
std::set<std::string> StoredEventKeys(ReliabilityEnv& env, const std::string& prefix) {
  std::set<std::string> keys;
  auto store = store::OpenStore(env.database());
  EXPECT_TRUE(store) << (store ? "" : store.error().message);
  if (!store) return keys;
  auto r = (*store)->Query("SELECT event_key FROM webhook_inbox WHERE event_key LIKE $1", {prefix + "%"});
  EXPECT_TRUE(r) << (r ? "" : r.error().message);
  if (r)
    for (const auto& row : r->rows) keys.insert(row.Text(0));
  return keys;
}

// On SQLite the server answers a delivery once it is in its journal, before the inbox's commit. A SIGKILL
// then can leave answered deliveries out of the database: the server started again stores them from the
// killed one's journal. Two kills: one at whatever moment, and one while the test holds the database's write
// lock (a long transaction elsewhere, a stalled disk), so that answered deliveries certainly wait
// uncommitted.
TEST(WebhookReliability, DeliveriesAnsweredBeforeAKillAreStoredOnceTheServerIsBack) {
  ReliabilityEnv env;
  std::string url, bearer;
  ASSERT_NO_FATAL_FAILURE(StartSynced(env, url, bearer));

  for (int round = 1; round <= 2; ++round) {
    const bool hold_the_write_lock = round == 2;
    // ULIDs "01KR<round><21 digits>"; the inbox keeps them lower-cased.
    const std::string prefix = "01KR" + std::to_string(round);
    std::string key_prefix = prefix;
    key_prefix[2] = 'k';
    key_prefix[3] = 'r';
    std::atomic<bool> stop{false};
    std::atomic<int64_t> next{0};
    std::mutex mu;
    std::vector<std::string> answered;  // event keys of the deliveries answered 200
    std::vector<std::thread> senders;
    for (int c = 0; c < 8; ++c) {
      senders.emplace_back([&] {
        std::vector<std::string> mine;
        while (!stop) {
          const int64_t n = next++;
          const std::string digits = std::to_string(n);
          const std::string ulid = prefix + std::string(21 - digits.size(), '0') + digits;
          http::ClientRequest r;
          r.method = "POST";
          r.url = url;
          r.timeout = std::chrono::seconds(5);
          r.body = RfiUpdateDelivery(env.emulator.company_id, env.emulator.project_ids[0],
                                     900000000 + round * 1000000 + n, ulid);
          r.headers.Add("Content-Type", "application/json");
          r.headers.Add("Authorization", bearer);
          if (http::Fetch(r).status == 200) mine.push_back(key_prefix + ulid.substr(prefix.size()));
        }
        std::lock_guard lock(mu);
        answered.insert(answered.end(), mine.begin(), mine.end());
      });
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1000));
    if (hold_the_write_lock) {
      auto blocker = store::OpenStore(env.database());
      ASSERT_TRUE(blocker) << blocker.error().message;
      // BEGIN IMMEDIATE: the server's commits wait for this transaction, its answers do not.
      Status held = (*blocker)->Transact([&](store::Tx&) -> Status {
        std::this_thread::sleep_for(std::chrono::milliseconds(500));
        env.KillServer();
        return Fail(ErrorKind::kUnavailable, "rolled_back", "nothing to keep");
      });
      EXPECT_FALSE(held);
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
      env.KillServer();
    }
    stop = true;
    for (auto& t : senders) t.join();
    ASSERT_FALSE(answered.empty());

    const std::set<std::string> at_kill = StoredEventKeys(env, key_prefix);  // nothing writes it now
    size_t unstored_at_kill = 0;
    for (const std::string& key : answered) unstored_at_kill += at_kill.count(key) == 0 ? 1 : 0;
    if (hold_the_write_lock) {
      EXPECT_GT(unstored_at_kill, 0u)
          << "no answered delivery waited for its commit: the journal went untested";
    }

    ASSERT_NO_FATAL_FAILURE(env.StartServer());
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    std::vector<std::string> missing;
    do {
      const std::set<std::string> stored = StoredEventKeys(env, key_prefix);
      missing.clear();
      for (const std::string& key : answered)
        if (stored.count(key) == 0) missing.push_back(key);
      if (missing.empty()) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    } while (std::chrono::steady_clock::now() < deadline);
    std::printf(
        "[ figures  ] kill %d: %zu deliveries answered, %zu of them not committed at the kill; %zu missing "
        "after the restart\n",
        round, answered.size(), unstored_at_kill, missing.size());
    EXPECT_TRUE(missing.empty()) << missing.size() << " answered deliveries lost, e.g. " << missing.front();
  }
  EXPECT_TRUE(env.ServerRunning());
}

}  // namespace
}  // namespace kt::testing
