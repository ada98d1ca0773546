// The in-memory Procore of the sync unit tests.
#include "fake_procore.h"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "sync/records.h"
#include "util/strings.h"

namespace kt::sync::testing {

namespace {

std::string PathOf(const std::string& url, std::string* query) {
  size_t scheme = url.find("://");
  size_t start = scheme == std::string::npos ? 0 : url.find('/', scheme + 3);
  if (start == std::string::npos) start = url.size();
  std::string rest = url.substr(start);
  size_t q = rest.find('?');
  if (q == std::string::npos) {
    query->clear();
    return rest;
  }
  *query = rest.substr(q + 1);
  return rest.substr(0, q);
}

}  // namespace

http::ClientResponse FakeProcore::Json(int status, std::string body) {
  http::ClientResponse r;
  r.status = status;
  r.body = std::move(body);
  r.headers.Set("Content-Type", "application/json");
  r.headers.Set("X-Rate-Limit-Limit", "10000");
  r.headers.Set("X-Rate-Limit-Remaining", "9999");
  r.headers.Set("X-Rate-Limit-Reset", std::to_string(clock_.NowUnixS() + 10));
  return r;
}

std::string FakeProcore::RecordJson(const FakeList& list, const FakeRecord& r) const {
  nlohmann::json j = {{"id", r.id}, {"name", r.name}, {"updated_at", FormatIso8601(r.updated_ms)}};
  if (list.active_flag) {
    j["is_active"] = !r.deleted;
    j["first_name"] = r.name;
    j["email_address"] = r.name + "@example.com";
  } else {
    j["deleted_at"] = r.deleted ? nlohmann::json(FormatIso8601(r.updated_ms)) : nlohmann::json();
  }
  return j.dump();
}

http::ClientResponse FakeProcore::Send(const http::ClientRequest& request) {
  if (on_send) on_send(request);
  std::lock_guard lock(mu_);
  std::string query_text;
  const std::string path = PathOf(request.url, &query_text);
  QueryParams query = ParseQuery(query_text);
  QueryParams sorted = query;
  std::sort(sorted.begin(), sorted.end());
  ++requests_;
  ++targets_[request.method + " " + path + (sorted.empty() ? "" : "?" + BuildQuery(sorted))];

  if (path == "/oauth/token") {
    return Json(200, nlohmann::json{{"access_token", "token-1"},
                                    {"token_type", "bearer"},
                                    {"expires_in", 5400},
                                    {"created_at", clock_.NowUnixS()}}
                         .dump());
  }
  for (const auto& [prefix, status, body] : failures_) {
    if (StartsWith(path, prefix)) return Json(status, body);
  }
  if (path == "/rest/v1.0/budget_views") {
    return Json(
        200, nlohmann::json::array({{{"id", budget_view_id}, {"name", "Procore Standard Budget"}}}).dump());
  }

  for (auto& [key, list] : lists_) {
    bool scope_ok = list.scope_param.empty() ||
                    std::find(query.begin(), query.end(),
                              std::pair<std::string, std::string>{
                                  list.scope_param.substr(0, list.scope_param.find('=')),
                                  list.scope_param.substr(list.scope_param.find('=') + 1)}) != query.end();
    if (path == list.list_path && scope_ok) {
      std::optional<int64_t> from, to;
      if (auto range = FindParam(query, "filters[updated_at]"); range && list.updated_filter) {
        size_t dots = range->find("...");
        from = ParseIso8601(range->substr(0, dots));
        if (dots != std::string::npos) to = ParseIso8601(range->substr(dots + 3));
      }
      bool with_deleted =
          list.include_deleted && FindParam(query, "filters[include_deleted]").value_or("") == "with";
      std::set<int64_t> ids;
      for (const auto& [k, v] : query) {
        if (list.id_filter && (k == "filters[id][]" || k == "budget_line_item_id[]"))
          ids.insert(ParseInt64(v).value_or(0));
      }
      std::vector<const FakeRecord*> matched;
      for (const auto& [id, r] : list.records) {
        if (r.gone) continue;
        if (!ids.empty() && !ids.count(id)) continue;
        if (r.deleted && (list.active_flag || !with_deleted)) continue;
        if (from && r.updated_ms < *from) continue;
        if (to && r.updated_ms > *to) continue;
        matched.push_back(&r);
      }
      int64_t page = ParseInt64(FindParam(query, "page").value_or("1")).value_or(1);
      int64_t per_page = ParseInt64(FindParam(query, "per_page").value_or("100")).value_or(100);
      per_page = std::min<int64_t>(per_page, max_per_page);
      const int64_t total = static_cast<int64_t>(matched.size());
      std::string body = "[";
      for (int64_t i = (page - 1) * per_page; i < std::min(total, page * per_page); ++i) {
        if (body.size() > 1) body += ",";
        body += RecordJson(list, *matched[static_cast<size_t>(i)]);
      }
      body += "]";
      auto r = Json(200, body);
      r.headers.Set("Total", std::to_string(total));
      r.headers.Set("Per-Page", std::to_string(per_page));
      if (page * per_page < total) {
        QueryParams next = query;
        for (auto& [k, v] : next) {
          if (k == "page") v = std::to_string(page + 1);
        }
        r.headers.Set("Link", "<http://fake.test" + path + "?" + BuildQuery(next) + ">; rel=\"next\"");
      }
      return r;
    }
    if (StartsWith(path, list.record_prefix)) {
      auto id = ParseInt64(std::string_view(path).substr(list.record_prefix.size()));
      if (!id) continue;
      auto it = list.records.find(*id);
      if (it == list.records.end() || it->second.gone || (it->second.deleted && !list.active_flag)) {
        return Json(404, R"({"errors":"Not Found"})");
      }
      return Json(200, RecordJson(list, it->second));
    }
  }
  return Json(404, R"({"errors":"Not Found"})");
}

FakeList& FakeProcore::List(const std::string& key, FakeList spec) {
  std::lock_guard lock(mu_);
  auto it = lists_.find(key);
  if (it == lists_.end()) it = lists_.emplace(key, std::move(spec)).first;
  return it->second;
}

void FakeProcore::Put(const std::string& key, int64_t id, int64_t updated_ms, std::string name) {
  std::lock_guard lock(mu_);
  lists_.at(key).records[id] = FakeRecord{id, updated_ms, false, false, std::move(name)};
}

void FakeProcore::Touch(const std::string& key, int64_t id, int64_t updated_ms) {
  std::lock_guard lock(mu_);
  auto& r = lists_.at(key).records.at(id);
  r.updated_ms = updated_ms;
  r.name += "+";
}

void FakeProcore::SoftDelete(const std::string& key, int64_t id, int64_t updated_ms) {
  std::lock_guard lock(mu_);
  auto& r = lists_.at(key).records.at(id);
  r.deleted = true;
  r.updated_ms = updated_ms;
}

void FakeProcore::HardDelete(const std::string& key, int64_t id) {
  std::lock_guard lock(mu_);
  lists_.at(key).records.at(id).gone = true;
}

std::pair<int64_t, std::string> FakeProcore::Truth(const std::string& key) {
  std::lock_guard lock(mu_);
  std::vector<std::string> lines;
  for (const auto& [id, r] : lists_.at(key).records) {
    if (!r.gone && !r.deleted) lines.push_back(std::to_string(id) + ":" + FormatIso8601(r.updated_ms));
  }
  const int64_t n = static_cast<int64_t>(lines.size());
  return {n, ChecksumOfLines(std::move(lines))};
}

std::map<std::string, int> FakeProcore::Targets() {
  std::lock_guard lock(mu_);
  return targets_;
}

int FakeProcore::Requests() {
  std::lock_guard lock(mu_);
  return requests_;
}

int FakeProcore::MaxTargetCount(const std::string& path_prefix) {
  std::lock_guard lock(mu_);
  int max = 0;
  for (const auto& [target, n] : targets_) {
    if (StartsWith(target, "GET " + path_prefix)) max = std::max(max, n);
  }
  return max;
}

int FakeProcore::RecordReads(const std::string& key, int64_t id) {
  std::lock_guard lock(mu_);
  auto it = targets_.find("GET " + lists_.at(key).record_prefix + std::to_string(id));
  if (it != targets_.end()) return it->second;
  // With the scope parameter in the query.
  int n = 0;
  for (const auto& [target, count] : targets_) {
    if (StartsWith(target, "GET " + lists_.at(key).record_prefix + std::to_string(id) + "?")) n += count;
  }
  return n;
}

void FakeProcore::ResetCounts() {
  std::lock_guard lock(mu_);
  targets_.clear();
  requests_ = 0;
}

void FakeProcore::FailPath(const std::string& prefix, int status, std::string body) {
  std::lock_guard lock(mu_);
  failures_.emplace_back(prefix, status, std::move(body));
}

void FakeProcore::ClearFailures() {
  std::lock_guard lock(mu_);
  failures_.clear();
}

FakeClientSource::FakeClientSource(procore::Transport& transport, Clock& clock, std::string app_client_id)
    : tokens_(transport, clock, random_), budget_(budget_store_, clock) {
  procore::ClientOptions options;
  options.app.urls =
      procore::EnvironmentUrls{procore::Environment::kCustom, "http://fake.test", "http://fake.test"};
  options.app.client_id = std::move(app_client_id);
  options.app.client_secret = "secret";
  procore::ClientDeps deps{transport, clock, random_, tokens_, budget_, nullptr};
  client_ = std::make_shared<procore::Client>(options, deps);
}

Result<std::shared_ptr<procore::Client>> FakeClientSource::ClientFor(int64_t client_id) {
  if (refuse) return tl::unexpected(*refuse);
  return client_;
}

namespace {

class FlakyTx final : public store::Tx {
 public:
  FlakyTx(store::Tx& inner, FlakyStore& store, std::mutex& mu) : inner_(inner), store_(store), mu_(mu) {}
  Result<store::QueryResult> Query(std::string_view sql, const store::Params& params) override {
    if (!decided_ && (sql.find("INSERT INTO procore_records") != std::string_view::npos ||
                      sql.find("INSERT INTO record_pages") != std::string_view::npos)) {
      decided_ = true;  // only a transaction's first record write may fail
      std::lock_guard lock(mu_);
      // A page fails once: the first record of the write names the page.
      std::string page_key =
          std::string(sql.substr(0, 40)) + (params.size() > 5 && std::holds_alternative<int64_t>(params[5])
                                                ? std::to_string(std::get<int64_t>(params[5]))
                                                : "");
      if (store_.arm_record_write_failures > 0 && store_.failed_pages.insert(page_key).second) {
        --store_.arm_record_write_failures;
        ++store_.failed;
        return Fail(ErrorKind::kUnavailable, "injected_crash", "The process stopped before the commit.");
      }
    }
    return inner_.Query(sql, params);
  }
  store::Dialect dialect() const override { return inner_.dialect(); }

 private:
  store::Tx& inner_;
  FlakyStore& store_;
  std::mutex& mu_;
  bool decided_ = false;
};

}  // namespace

Status FlakyStore::Transact(const std::function<Status(store::Tx&)>& fn) {
  return inner_.Transact([&](store::Tx& tx) -> Status {
    FlakyTx flaky(tx, *this, mu_);
    return fn(flaky);
  });
}

}  // namespace kt::sync::testing
