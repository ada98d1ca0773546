// A small in-memory Procore behind the procore::Transport seam, for the sync engine's unit tests: lists with
// page/per_page, Total, Per-Page and Link, filters[updated_at] and include_deleted, single-record reads,
// injected failures, and request counts per target.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "procore/client.h"
#include "procore/transport.h"
#include "store/store.h"
#include "sync/client_source.h"
#include "util/clock.h"
#include "util/random.h"

namespace kt::sync::testing {

struct FakeRecord {
  int64_t id = 0;
  int64_t updated_ms = 0;
  bool deleted = false;  // soft-deleted (deleted_at set), or an inactive user/vendor
  bool gone = false;     // hard-deleted
  std::string name;
};

// One list as the fake serves it.
struct FakeList {
  std::string list_path;      // "/rest/v1.0/projects/5/rfis"
  std::string scope_param;    // "project_id=5" or "" (query parameter the list requires)
  std::string record_prefix;  // "/rest/v1.0/projects/5/rfis/"
  bool updated_filter = true;
  bool include_deleted = false;
  bool active_flag = false;  // users/vendors: deleted means is_active false, hidden from the list
  bool id_filter = true;     // honours filters[id][] (else ignores it, as an endpoint without it would)
  std::map<int64_t, FakeRecord> records;
};

class FakeProcore final : public procore::Transport {
 public:
  explicit FakeProcore(Clock& clock) : clock_(clock) {}

  http::ClientResponse Send(const http::ClientRequest& request) override;

  // Adds (or returns) a list under a key, e.g. "rfis:5".
  FakeList& List(const std::string& key, FakeList spec = {});
  void Put(const std::string& key, int64_t id, int64_t updated_ms, std::string name = "r");
  void Touch(const std::string& key, int64_t id, int64_t updated_ms);
  void SoftDelete(const std::string& key, int64_t id, int64_t updated_ms);
  void HardDelete(const std::string& key, int64_t id);

  // interfaces.md count and checksum of a list's live records.
  std::pair<int64_t, std::string> Truth(const std::string& key);

  // Requests per target ("GET /path?sorted-query").
  std::map<std::string, int> Targets();
  int Requests();
  int MaxTargetCount(const std::string& path_prefix = "");
  int RecordReads(const std::string& key, int64_t id);
  void ResetCounts();

  // Every request whose path starts with the prefix answers `status` with `body`.
  void FailPath(const std::string& prefix, int status, std::string body);
  void ClearFailures();
  int max_per_page = 2;
  int64_t budget_view_id = 777;
  // Called with each request before it is answered, on the sending thread (e.g. to hold a read up).
  std::function<void(const http::ClientRequest&)> on_send;

 private:
  http::ClientResponse Json(int status, std::string body);
  std::string RecordJson(const FakeList& list, const FakeRecord& r) const;

  Clock& clock_;
  std::mutex mu_;
  std::map<std::string, FakeList> lists_;
  std::map<std::string, int> targets_;
  int requests_ = 0;
  std::vector<std::tuple<std::string, int, std::string>> failures_;
};

// Clients over one transport, the same for every KTrack client id.
class FakeClientSource final : public ProcoreClientSource {
 public:
  FakeClientSource(procore::Transport& transport, Clock& clock, std::string app_client_id = "ktrack-app");
  Result<std::shared_ptr<procore::Client>> ClientFor(int64_t client_id) override;
  // When set, ClientFor answers it (no integration, or credentials that cannot be used now).
  std::optional<Error> refuse;

 private:
  SeededRandom random_{7};
  procore::TokenCache tokens_;
  procore::InMemoryRateBudgetStore budget_store_;
  procore::RateBudget budget_;
  std::shared_ptr<procore::Client> client_;
};

// A store that can be told to fail the next transaction that writes Procore records (a crash before a page
// commit: the page was fetched but its transaction never committed).
class FlakyStore final : public store::Store {
 public:
  explicit FlakyStore(store::Store& inner) : inner_(inner) {}
  store::Dialect dialect() const override { return inner_.dialect(); }
  Status Transact(const std::function<Status(store::Tx&)>& fn) override;
  Result<store::QueryResult> Query(std::string_view sql, const store::Params& params) override {
    return inner_.Query(sql, params);
  }
  Status Ping() override { return inner_.Ping(); }
  std::string Describe() const override { return inner_.Describe(); }

  int arm_record_write_failures = 0;  // how many record-writing transactions to fail
  int failed = 0;
  std::set<std::string> failed_pages;

 private:
  store::Store& inner_;
  std::mutex mu_;
};

}  // namespace kt::sync::testing
