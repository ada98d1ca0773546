// The Procore client against the Procore emulator over HTTP: every stream read matches the emulator's truth,
// a large stream is read completely under injected faults, a multi-threaded read under a 20-per-10-s spike
// limit sees no 429, and each error the emulator produces maps to its typed error and fix.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "emulator_control.h"
#include "process.h"
#include "procore/client.h"
#include "procore/environment.h"
#include "procore/pagination.h"
#include "procore/webhooks.h"
#include "util/hash.h"

namespace kt::procore {
namespace {

using nlohmann::json;

// One emulator process and its control API.
class Emulator {
 public:
  void Start(const std::string& preset, int seed) {
    process_.Start({kt::testing::BinPath("procore-emulator"), "--listen", "127.0.0.1:0", "--preset", preset,
                    "--seed", std::to_string(seed)});
    url_ = process_.WaitForListening();
  }
  const std::string& url() const { return url_; }

  // A control call: throws with the call and the answer when it fails (the test fails with that message).
  json Control(const std::string& method, const std::string& path, const json& body = nullptr) {
    return kt::testing::EmulatorControl(url_).Call(method, path, body);
  }

 private:
  kt::testing::ChildProcess process_;
  std::string url_;
};

// libcurl, keeping when each request went out and came back and what the emulator said of its rate windows,
// so a test about the rate budget can show the timeline when it fails.
class TimedTransport final : public Transport {
 public:
  struct Entry {
    int64_t sent_ms = 0;
    int64_t received_ms = 0;
    int status = 0;
    std::string remaining;
    std::string reset;
    std::string url;
  };

  http::ClientResponse Send(const http::ClientRequest& request) override {
    Entry e;
    e.sent_ms = UnixMs(SystemClock::Instance().Now());
    http::ClientResponse response = inner_.Send(request);
    e.received_ms = UnixMs(SystemClock::Instance().Now());
    e.status = response.status;
    e.remaining = response.headers.Get("X-Rate-Limit-Remaining").value_or("");
    e.reset = response.headers.Get("X-Rate-Limit-Reset").value_or("");
    e.url = request.url.substr(0, request.url.find('?'));
    std::lock_guard lock(mu_);
    log_.push_back(std::move(e));
    return response;
  }

  // One line a request in the order sent, times relative to the first.
  std::string Timeline() {
    std::lock_guard lock(mu_);
    std::vector<Entry> log = log_;
    std::sort(log.begin(), log.end(), [](const Entry& a, const Entry& b) { return a.sent_ms < b.sent_ms; });
    std::string out;
    const int64_t t0 = log.empty() ? 0 : log.front().sent_ms;
    for (const auto& e : log) {
      out += "  sent +" + std::to_string(e.sent_ms - t0) + " ms, back +" +
             std::to_string(e.received_ms - t0) + " ms: " + std::to_string(e.status) + " remaining " +
             e.remaining + " reset " + e.reset + " " + e.url + "\n";
    }
    return out;
  }

 private:
  CurlTransport inner_;
  std::mutex mu_;
  std::vector<Entry> log_;
};

// A client with its own token cache and rate budget (so tests don't share budget state).
struct Wired {
  Wired(const std::string& url, const std::string& client_id, const std::string& secret,
        ClientOptions options = {}, RateBudgetPolicy policy = {})
      : budget(store, SystemClock::Instance(), policy),
        tokens(transport, SystemClock::Instance(), DefaultRandom()),
        client(Options(url, client_id, secret, std::move(options)),
               ClientDeps{transport, SystemClock::Instance(), DefaultRandom(), tokens, budget, nullptr}) {}

  static ClientOptions Options(const std::string& url, const std::string& id, const std::string& secret,
                               ClientOptions o) {
    auto urls = ResolveEnvironment(Environment::kCustom, url, url, /*allow_custom_urls=*/true);
    EXPECT_TRUE(urls);
    o.app.urls = *urls;
    o.app.client_id = id;
    o.app.client_secret = secret;
    return o;
  }

  TimedTransport transport;
  InMemoryRateBudgetStore store;
  RateBudget budget;
  TokenCache tokens;
  Client client;
};

json AllToolsReadOnly() {
  json project = json::object();
  for (const char* tool : {"Admin", "Directory", "Budget", "Commitments", "Change Orders", "Prime Contracts",
                           "Change Events", "Direct Costs", "RFIs", "Submittals", "Daily Log"}) {
    project[tool] = "read_only";
  }
  return {{"company", {{"Admin", "read_only"}, {"Directory", "read_only"}, {"Webhooks API", "standard"}}},
          {"project", project}};
}

// Reads one stream of one project (or the company) and returns the truth checksum of what was read.
struct StreamRead {
  int64_t count = 0;
  std::string checksum;
  int64_t max_id = 0;
};

ProcoreResult<StreamRead> ReadStream(Client& client, const StreamEndpoint& stream, int64_t company,
                                     int64_t project, int per_page = 0,
                                     Priority priority = Priority::kInitialSync) {
  StreamListOptions o;
  o.company_id = company;
  o.project_id = project;
  o.per_page = per_page;
  o.priority = priority;
  if (stream.needs_parent) {
    auto views = client.ListBudgetViews(company, project);
    if (!views) return tl::unexpected(views.error());
    if (views->empty()) return StreamRead{0, Sha256Hex(""), 0};
    o.parent_id = views->front().id;
  }
  auto list = StreamListRequest(stream, o, SystemClock::Instance().Now());
  if (!list) return tl::unexpected(list.error());
  std::vector<std::string> lines;
  StreamRead out;
  auto read = ForEachPage(client, std::move(*list), [&](const Page& page) -> ProcoreStatus {
    for (const auto& r : page.records) {
      if (!r.deleted_at.empty()) continue;
      lines.push_back(std::to_string(r.id) + ":" + std::string(r.updated_at));
      out.max_id = std::max(out.max_id, r.id);
    }
    return {};
  });
  if (!read) return tl::unexpected(read.error());
  std::sort(lines.begin(), lines.end());
  std::string joined;
  for (size_t i = 0; i < lines.size(); ++i) joined += (i ? "\n" : "") + lines[i];
  out.count = static_cast<int64_t>(lines.size());
  out.checksum = Sha256Hex(joined);
  return out;
}

class ProcoreEmulator : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    emulator_ = new Emulator();
    emulator_->Start("small", 7);
  }
  static void TearDownTestSuite() {
    delete emulator_;
    emulator_ = nullptr;
  }

  void SetUp() override {
    auto reset = Emulator_().Control("POST", "/_emulator/reset", {{"preset", "small"}, {"seed", 7}});
    company_ = reset["companies"][0]["id"].get<int64_t>();
    for (const auto& p : reset["companies"][0]["project_ids"]) projects_.push_back(p.get<int64_t>());
    ASSERT_GE(projects_.size(), 2u);
  }

  static Emulator& Emulator_() { return *emulator_; }

  // A DMSA app, installed with `permissions` on `permitted` projects (or not installed when null).
  std::pair<std::string, std::string> App(const std::string& kind = "dmsa",
                                          const json& permissions = AllToolsReadOnly(),
                                          const json& permitted = "all", bool install = true) {
    auto app = Emulator_().Control("POST", "/_emulator/apps", {{"name", "KTrack test"}, {"kind", kind}});
    std::string id = app["client_id"], secret = app["client_secret"];
    if (install) {
      Emulator_().Control(
          "POST", "/_emulator/companies/" + std::to_string(company_) + "/installs",
          {{"client_id", id}, {"permissions", permissions}, {"permitted_projects", permitted}});
    }
    return {id, secret};
  }

  json Truth(const std::string& stream, int64_t project) {
    std::string q = "/_emulator/truth?company_id=" + std::to_string(company_) + "&stream=" + stream;
    if (project) q += "&project_id=" + std::to_string(project);
    auto t = Emulator_().Control("GET", q);
    for (const auto& s : t["streams"]) {
      bool same_project = project ? (s["project_id"].is_number() && s["project_id"].get<int64_t>() == project)
                                  : s["project_id"].is_null();
      if (s["stream"] == stream && same_project) return s;
    }
    return json();
  }

  static Emulator* emulator_;
  int64_t company_ = 0;
  std::vector<int64_t> projects_;
};

Emulator* ProcoreEmulator::emulator_ = nullptr;

TEST_F(ProcoreEmulator, EveryStreamMatchesTheTruth) {
  auto [id, secret] = App();
  Wired w(Emulator_().url(), id, secret);
  for (const auto& stream : StreamEndpoints()) {
    std::vector<int64_t> scopes = stream.scope == Scope::kCompany ? std::vector<int64_t>{0} : projects_;
    for (int64_t project : scopes) {
      auto read = ReadStream(w.client, stream, company_, project);
      ASSERT_TRUE(read) << stream.key << " " << project << ": " << read.error().error.message << " "
                        << read.error().error.detail;
      json truth = Truth(std::string(stream.key), project);
      ASSERT_FALSE(truth.is_null()) << stream.key;
      EXPECT_EQ(read->count, truth["count"].get<int64_t>()) << stream.key << " project " << project;
      EXPECT_EQ(read->checksum, truth["checksum"].get<std::string>()) << stream.key << " project " << project;
    }
  }
}

TEST_F(ProcoreEmulator, WizardCallsAndWebhooksApi) {
  auto [id, secret] = App();
  Wired w(Emulator_().url(), id, secret);
  auto token = w.client.VerifyCredentials();
  ASSERT_TRUE(token) << token.error().error.detail;
  EXPECT_GT(token->expires_at, token->obtained_at);
  auto companies = w.client.ListCompanies(company_);
  ASSERT_TRUE(companies) << companies.error().error.detail;
  ASSERT_EQ(companies->size(), 1u);
  EXPECT_EQ((*companies)[0].id, company_);
  auto me = w.client.GetCompanyMe(company_);
  ASSERT_TRUE(me) << me.error().error.detail;
  EXPECT_GT(me->id, 0);
  auto permissions = w.client.GetPermissions(company_, Scope::kProject, projects_[0]);
  ASSERT_TRUE(permissions) << permissions.error().error.detail;
  bool rfis_read_only = false;
  for (const auto& p : *permissions)
    rfis_read_only |= SameTool(p.friendly_name, "RFIs") && p.level == "Read Only";
  EXPECT_TRUE(rfis_read_only);
  auto tools = w.client.ListProjectTools(company_, projects_[0]);
  ASSERT_TRUE(tools) << tools.error().error.detail;
  EXPECT_FALSE(tools->empty());
  auto projects = w.client.ListProjects(company_);
  ASSERT_TRUE(projects);
  EXPECT_EQ(projects->size(), projects_.size());

  WebhooksApi api(w.client);
  HookScope scope{company_, 0};
  auto resources = api.ListResources(scope);
  ASSERT_TRUE(resources) << resources.error().error.detail;
  auto hook = api.CreateHook(scope, {"ktrack-test", "http://127.0.0.1:9/webhooks/procore/x", "v2.0",
                                     std::string("Bearer hook-secret")});
  ASSERT_TRUE(hook) << hook.error().error.detail;
  std::vector<TriggerSpec> triggers;
  for (const auto& s : StreamEndpoints()) {
    if (s.webhook_resource.empty()) continue;
    for (const char* event : {"create", "update", "delete"})
      triggers.push_back({std::string(s.webhook_resource), event});
  }
  auto created = api.BulkCreateTriggers(scope, hook->id, "v2.0", triggers);
  ASSERT_TRUE(created) << created.error().error.detail;
  EXPECT_GT(created->created.size(), 0u);
  EXPECT_EQ(created->created.size() + created->failed.size(), triggers.size());
  auto listed = api.ListTriggers(scope, hook->id);
  ASSERT_TRUE(listed);
  EXPECT_EQ(listed->size(), created->created.size());
  auto hooks = api.ListHooks(scope, "ktrack-test");
  ASSERT_TRUE(hooks);
  ASSERT_EQ(hooks->size(), 1u);
  auto deliveries = api.ListDeliveries(scope, hook->id, {"failing", 100, 0});
  EXPECT_TRUE(deliveries) << deliveries.error().error.detail;
  EXPECT_TRUE(api.DeleteHook(scope, hook->id));

  // A webhook follow-up reads one record.
  auto rfis = ReadStream(w.client, *FindStream("rfis"), company_, projects_[0]);
  ASSERT_TRUE(rfis);
  if (rfis->count > 0) {
    RecordRequest rr;
    rr.stream = "rfis";
    rr.company_id = company_;
    rr.project_id = projects_[0];
    rr.id = rfis->max_id;
    auto record = w.client.GetRecord(rr);
    ASSERT_TRUE(record) << record.error().error.detail;
    EXPECT_EQ(json::parse(*record)["id"].get<int64_t>(), rfis->max_id);
  }
}

TEST_F(ProcoreEmulator, ErrorsMapToTypedErrorsWithFixes) {
  const std::string url = Emulator_().url();
  const int64_t p0 = projects_[0], p1 = projects_[1];

  {  // wrong secret
    auto [id, secret] = App();
    Wired w(url, id, secret + "x");
    auto r = w.client.VerifyCredentials();
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().error.code, "invalid_credentials");
    EXPECT_NE(r.error().error.fix.find("OAuth Credentials"), std::string::npos);
    EXPECT_EQ(r.error().error.detail.find(secret), std::string::npos);
  }
  {  // legacy service account
    auto [id, secret] = App("legacy_service_account", AllToolsReadOnly(), "all", /*install=*/false);
    Wired w(url, id, secret);
    auto r = w.client.VerifyCredentials();
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().error.code, "service_account_retired");
    EXPECT_NE(r.error().error.fix.find("Developer Managed Service Account"), std::string::npos);
  }
  {  // app not installed
    auto [id, secret] = App("dmsa", AllToolsReadOnly(), "all", /*install=*/false);
    Wired w(url, id, secret);
    auto r = w.client.GetCompanyMe(company_);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().error.code, "app_not_installed");
    EXPECT_NE(r.error().error.fix.find("App Management"), std::string::npos);
  }
  {  // missing permission: RFIs at None
    json permissions = AllToolsReadOnly();
    permissions["project"]["RFIs"] = "none";
    auto [id, secret] = App("dmsa", permissions);
    Wired w(url, id, secret);
    auto r = ReadStream(w.client, *FindStream("rfis"), company_, p0);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().error.code, "missing_permission");
    EXPECT_EQ(r.error().context.tool, "RFIs");
    EXPECT_EQ(r.error().context.project_id, p0);
    EXPECT_NE(r.error().error.fix.find("give Read Only on RFIs for project"), std::string::npos)
        << r.error().error.fix;
    // Company level: Directory at None.
    json no_directory = AllToolsReadOnly();
    no_directory["company"]["Directory"] = "none";
    auto [id2, secret2] = App("dmsa", no_directory);
    Wired w2(url, id2, secret2);
    auto c = ReadStream(w2.client, *FindStream("vendors"), company_, 0);
    ASSERT_FALSE(c);
    EXPECT_EQ(c.error().error.code, "missing_permission");
    EXPECT_NE(c.error().error.fix.find("company-level Directory tool"), std::string::npos)
        << c.error().error.fix;
  }
  {  // project not permitted
    auto [id, secret] = App("dmsa", AllToolsReadOnly(), json::array({p0}));
    Wired w(url, id, secret);
    ASSERT_TRUE(ReadStream(w.client, *FindStream("rfis"), company_, p0));
    auto r = ReadStream(w.client, *FindStream("rfis"), company_, p1);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().error.code, "project_not_permitted");
    EXPECT_NE(r.error().error.fix.find("permitted projects"), std::string::npos);
  }
  {  // tool disabled
    auto [id, secret] = App();
    Emulator_().Control("PUT", "/_emulator/projects/" + std::to_string(p1) + "/tools/RFIs",
                        {{"active", false}});
    Wired w(url, id, secret);
    auto r = ReadStream(w.client, *FindStream("rfis"), company_, p1);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().error.code, "tool_disabled");
    EXPECT_NE(r.error().error.fix.find("Active Tools"), std::string::npos);
    Emulator_().Control("PUT", "/_emulator/projects/" + std::to_string(p1) + "/tools/RFIs",
                        {{"active", true}});
  }
  {  // not found
    auto [id, secret] = App();
    Wired w(url, id, secret);
    RecordRequest rr;
    rr.stream = "rfis";
    rr.company_id = company_;
    rr.project_id = p0;
    rr.id = 987654321;
    auto r = w.client.GetRecord(rr);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().error.code, "not_found");
    EXPECT_NE(r.error().error.message.find("RFI 987654321"), std::string::npos);
  }
  {  // rate limited: the hourly window spent, so nothing can succeed within the call's bound
    auto [id, secret] = App();
    Emulator_().Control("PUT", "/_emulator/faults",
                        {{"rate_limit", {{"hourly", 3}, {"spike", 100}, {"spike_window_s", 10}}}});
    ClientOptions o;
    o.retry.max_total = Millis(5'000);
    Wired w(url, id, secret, o);
    ProcoreResult<StreamRead> r = StreamRead{};
    for (int i = 0; i < 5 && r; ++i)
      r = ReadStream(w.client, *FindStream("rfis"), company_, p0, 0, Priority::kInteractive);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().error.code, "rate_limited");
    ASSERT_TRUE(r.error().retry_at);
    EXPECT_GT(*r.error().retry_at, SystemClock::Instance().Now() + std::chrono::minutes(30));
    EXPECT_TRUE(w.client.RateLimitedUntil(company_));
    Emulator_().Control("PUT", "/_emulator/faults",
                        {{"rate_limit", {{"hourly", 3600}, {"spike", 100}, {"spike_window_s", 10}}}});
  }
  {  // unavailable
    auto [id, secret] = App();
    Wired w(url, id, secret);
    ASSERT_TRUE(w.client.VerifyCredentials());
    Emulator_().Control("PUT", "/_emulator/faults", {{"error_rate", 1.0}});
    ClientOptions o;
    o.retry.max_total = Millis(4'000);
    Wired fast(url, id, secret, o);
    auto r = ReadStream(fast.client, *FindStream("rfis"), company_, p0);
    Emulator_().Control("PUT", "/_emulator/faults", {{"error_rate", 0.0}});
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().error.code, "procore_unavailable");
    EXPECT_FALSE(r.error().error.fix.empty());
  }
}

TEST_F(ProcoreEmulator, ManyThreadsUnderTwentyPerTenSecondsSeeNoTooManyRequests) {
  auto [id, secret] = App();
  Emulator_().Control("PUT", "/_emulator/faults",
                      {{"rate_limit", {{"hourly", 3600}, {"spike", 20}, {"spike_window_s", 10}}}});
  Emulator_().Control("POST", "/_emulator/stats/reset");
  Wired w(Emulator_().url(), id, secret);
  // Small pages make many requests: every project stream of every project, read by four threads.
  std::vector<std::pair<const StreamEndpoint*, int64_t>> work;
  for (const auto& s : StreamEndpoints()) {
    if (s.scope == Scope::kCompany) {
      work.emplace_back(&s, 0);
    } else {
      for (int64_t p : projects_) work.emplace_back(&s, p);
    }
  }
  std::atomic<size_t> next{0};
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (size_t i = next++; i < work.size() && i < 40; i = next++) {
        auto r = ReadStream(w.client, *work[i].first, company_, work[i].second, 10,
                            t % 2 ? Priority::kInitialSync : Priority::kReconciliation);
        if (!r) {
          ++failures;
          ADD_FAILURE() << work[i].first->key << ": " << r.error().error.detail;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  auto stats = Emulator_().Control("GET", "/_emulator/stats");
  EXPECT_GT(stats["requests"].get<int64_t>(), 40);
  // Session 25 saw two 429s here once (of 65 requests), never since; the timeline is for the next time.
  EXPECT_EQ(stats["rate_limited"].get<int64_t>(), 0) << stats.dump() << "\n" << w.transport.Timeline();
  EXPECT_FALSE(stats["by_status"].contains("429")) << stats["by_status"].dump();
  EXPECT_EQ(w.client.RateBudgetStatus(company_).spike_limit, 20);
}

TEST(ProcoreEmulatorLarge, FiveThousandRecordStreamReadCompletelyUnderFaults) {
  Emulator emulator;
  emulator.Start("large", 3);
  auto reset = emulator.Control("POST", "/_emulator/reset", {{"preset", "large"}, {"seed", 3}});
  const int64_t company = reset["companies"][0]["id"].get<int64_t>();
  auto app = emulator.Control("POST", "/_emulator/apps", {{"name", "KTrack test"}, {"kind", "dmsa"}});
  emulator.Control(
      "POST", "/_emulator/companies/" + std::to_string(company) + "/installs",
      {{"client_id", app["client_id"]}, {"permissions", AllToolsReadOnly()}, {"permitted_projects", "all"}});
  auto truth =
      emulator.Control("GET", "/_emulator/truth?company_id=" + std::to_string(company) + "&stream=vendors");
  const json& vendors = truth["streams"][0];
  ASSERT_GE(vendors["count"].get<int64_t>(), 5000);

  emulator.Control("PUT", "/_emulator/faults", {{"error_rate", 0.1}, {"timeout_rate", 0.02}});
  emulator.Control("POST", "/_emulator/stats/reset");
  ClientOptions o;
  o.timeout = Millis(1'500);  // the emulator's timeouts hang for 30 s
  o.retry.max_total = Millis(60'000);
  Wired w(emulator.url(), app["client_id"], app["client_secret"], o);
  auto read = ReadStream(w.client, *FindStream("vendors"), company, 0, 100);
  ASSERT_TRUE(read) << read.error().error.detail;
  EXPECT_EQ(read->count, vendors["count"].get<int64_t>());
  EXPECT_EQ(read->checksum, vendors["checksum"].get<std::string>());
  EXPECT_GT(read->max_id, int64_t{1} << 32) << "ids past 32 bits survive";
  auto stats = emulator.Control("GET", "/_emulator/stats");
  int64_t faults = 0;
  for (const char* s : {"500", "502", "503", "504"}) faults += stats["by_status"].value(s, int64_t{0});
  EXPECT_GT(faults, 0) << "faults were injected: " << stats["by_status"].dump();
  EXPECT_EQ(stats["rate_limited"].get<int64_t>(), 0);
}

}  // namespace
}  // namespace kt::procore
