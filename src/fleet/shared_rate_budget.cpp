// The rate budget on the Store: one row per budget key, read and written under the row's lock.
#include "fleet/shared_rate_budget.h"

#include <algorithm>
#include <charconv>

#include <nlohmann/json.hpp>

#include "obs/log.h"

namespace kt::fleet {
namespace {

using procore::AcquireDecision;
using procore::RateBudgetState;
using procore::RateWindow;
using store::Tx;

// Never granted while the database is unreachable; asked again after this.
constexpr Millis kUnavailableRetry{1'000};

nlohmann::json EncodeWindow(const RateWindow& w) {
  return {w.limit, w.remaining, w.reset_ms, w.observed_send_ms, w.foreign};
}

bool DecodeWindow(const nlohmann::json& j, RateWindow& w) {
  if (!j.is_array() || j.size() != 5) return false;
  for (const auto& v : j)
    if (!v.is_number_integer()) return false;
  w.limit = j[0].get<int64_t>();
  w.remaining = j[1].get<int64_t>();
  w.reset_ms = j[2].get<int64_t>();
  w.observed_send_ms = j[3].get<int64_t>();
  w.foreign = j[4].get<int64_t>();
  return true;
}

void AppendBase36(std::string& out, int64_t n) {
  char buf[16];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, n, 36);
  out.append(buf, end);
}

Error Corrupt(const std::string& what) {
  return Error{ErrorKind::kInternal, "rate_budget_corrupt", "A stored rate budget could not be read.",
               "It is rebuilt from the next responses; nothing needs doing.", what};
}

// The key's state with its row locked for the rest of tx (created empty when missing).
Result<RateBudgetState> LockedState(Tx& tx, const std::string& key, int64_t now_ms) {
  const std::string select =
      "SELECT state FROM rate_budgets WHERE budget_key = $1" + std::string(tx.LockRows());
  auto r = tx.Query(select, {key});
  if (!r) return tl::unexpected(r.error());
  if (r->empty()) {
    auto inserted = tx.Exec(
        "INSERT INTO rate_budgets (budget_key, state, updated_at) VALUES ($1, '', $2) ON CONFLICT DO NOTHING",
        {key, now_ms});
    if (!inserted) return tl::unexpected(inserted.error());
    r = tx.Query(select, {key});
    if (!r) return tl::unexpected(r.error());
    if (r->empty()) return tl::unexpected(Corrupt("the row of " + key + " vanished"));
  }
  const std::string text = r->rows[0].Text(0);
  if (text.empty()) return RateBudgetState{};
  auto state = DecodeBudgetState(text);
  if (!state) {
    // A row we cannot read is started afresh rather than blocking the company's requests for good.
    obs::Log(obs::Level::kWarn, "rate_budget_corrupt", {{"key", key}, {"detail", state.error().detail}});
    return RateBudgetState{};
  }
  return state;
}

Status Save(Tx& tx, const std::string& key, const RateBudgetState& state, int64_t now_ms) {
  auto r = tx.Exec("UPDATE rate_budgets SET state = $2, updated_at = $3 WHERE budget_key = $1",
                   {key, EncodeBudgetState(state), now_ms});
  if (!r) return tl::unexpected(r.error());
  return {};
}

}  // namespace

std::string EncodeSendLog(const std::vector<int64_t>& sends_ms) {
  std::string out;
  out.reserve(sends_ms.size() * 4);
  int64_t previous = 0;
  for (size_t i = 0; i < sends_ms.size(); ++i) {
    if (i) out += ',';
    AppendBase36(out, i ? sends_ms[i] - previous : sends_ms[i]);
    previous = sends_ms[i];
  }
  return out;
}

Result<std::vector<int64_t>> DecodeSendLog(const std::string& text) {
  std::vector<int64_t> sends;
  if (text.empty()) return sends;
  const char* p = text.data();
  const char* end = p + text.size();
  int64_t previous = 0;
  while (p <= end) {
    const char* comma = std::find(p, end, ',');
    int64_t n = 0;
    auto [stop, ec] = std::from_chars(p, comma, n, 36);
    if (ec != std::errc() || stop != comma || p == comma)
      return tl::unexpected(Corrupt("bad send log entry at offset " + std::to_string(p - text.data())));
    if (!sends.empty() && n < 0) return tl::unexpected(Corrupt("send log goes backwards"));
    previous = sends.empty() ? n : previous + n;
    sends.push_back(previous);
    p = comma + 1;
  }
  return sends;
}

std::string EncodeBudgetState(const RateBudgetState& state) {
  nlohmann::json j = {{"s", EncodeWindow(state.spike)},
                      {"h", EncodeWindow(state.hourly)},
                      {"r", state.saw_response},
                      {"b", state.blocked_until_ms},
                      {"n", state.rate_limited_count},
                      {"t", EncodeSendLog(state.sends_ms)},
                      {"f", EncodeSendLog(state.in_flight_ms)}};
  return j.dump();
}

Result<RateBudgetState> DecodeBudgetState(const std::string& text) {
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (!j.is_object()) return tl::unexpected(Corrupt("not a JSON object"));
  RateBudgetState state;
  if (!DecodeWindow(j.value("s", nlohmann::json()), state.spike) ||
      !DecodeWindow(j.value("h", nlohmann::json()), state.hourly))
    return tl::unexpected(Corrupt("bad window"));
  const auto r = j.value("r", nlohmann::json()), b = j.value("b", nlohmann::json()),
             n = j.value("n", nlohmann::json()), t = j.value("t", nlohmann::json());
  if (!r.is_boolean() || !b.is_number_integer() || !n.is_number_integer() || !t.is_string())
    return tl::unexpected(Corrupt("missing fields"));
  state.saw_response = r.get<bool>();
  state.blocked_until_ms = b.get<int64_t>();
  state.rate_limited_count = n.get<int64_t>();
  auto sends = DecodeSendLog(t.get<std::string>());
  if (!sends) return tl::unexpected(sends.error());
  state.sends_ms = std::move(*sends);
  // Requests in flight; absent in rows written before they were kept (none is then known to be in flight).
  const auto f = j.value("f", nlohmann::json(""));
  if (!f.is_string()) return tl::unexpected(Corrupt("bad in-flight log"));
  auto flying = DecodeSendLog(f.get<std::string>());
  if (!flying) return tl::unexpected(flying.error());
  state.in_flight_ms = std::move(*flying);
  return state;
}

SharedRateBudgetStore::SharedRateBudgetStore(store::Store& store) : store_(store) {}

AcquireDecision SharedRateBudgetStore::TryAcquire(const std::string& key, SysTime now,
                                                  const procore::RateBudgetPolicy& policy) {
  const int64_t now_ms = UnixMs(now);
  AcquireDecision decision;
  Status s = store_.Transact([&](Tx& tx) -> Status {
    auto state = LockedState(tx, key, now_ms);
    if (!state) return tl::unexpected(state.error());
    decision = procore::DecideAcquire(*state, now, policy);
    // A refusal changes nothing worth writing (only old sends forgotten, which the next grant does too).
    if (!decision.granted) return {};
    return Save(tx, key, *state, now_ms);
  });
  if (!s) {
    obs::Log(obs::Level::kWarn, "rate_budget_unavailable",
             {{"code", s.error().code}, {"detail", s.error().detail}});
    return {false, now + kUnavailableRetry};
  }
  return decision;
}

void SharedRateBudgetStore::Observe(const std::string& key, const procore::RateObservation& observation,
                                    const procore::RateBudgetPolicy& policy) {
  const int64_t now_ms = UnixMs(observation.received_at);
  Status s = store_.Transact([&](Tx& tx) -> Status {
    auto state = LockedState(tx, key, now_ms);
    if (!state) return tl::unexpected(state.error());
    procore::ApplyObservation(*state, observation, policy);
    return Save(tx, key, *state, now_ms);
  });
  if (!s)
    obs::Log(obs::Level::kWarn, "rate_budget_unavailable",
             {{"code", s.error().code}, {"detail", s.error().detail}});
}

RateBudgetState SharedRateBudgetStore::Load(const std::string& key) {
  auto r = store_.Query("SELECT state FROM rate_budgets WHERE budget_key = $1", {key});
  if (!r || r->empty() || r->rows[0].Text(0).empty()) return {};
  auto state = DecodeBudgetState(r->rows[0].Text(0));
  return state ? *state : RateBudgetState{};
}

}  // namespace kt::fleet
