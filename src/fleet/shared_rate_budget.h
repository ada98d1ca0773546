// The Procore rate budget kept in the database (table rate_budgets), so every KTrack process on one database
// paces one (app, company) together: four workers syncing one company share its spike and hourly windows.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "procore/rate_budget.h"
#include "store/store.h"
#include "util/error.h"

namespace kt::fleet {

// A RateBudgetStore on the Store. TryAcquire and Observe are one short transaction each with the key's row
// locked (SELECT ... FOR UPDATE on PostgreSQL; SQLite's BEGIN IMMEDIATE already serialises), around the
// same DecideAcquire/ApplyObservation as the in-memory store. When the database cannot be reached no request
// is granted (a second later it asks again): sending unpaced could bring 429s on every process at once.
class SharedRateBudgetStore final : public procore::RateBudgetStore {
 public:
  explicit SharedRateBudgetStore(store::Store& store);

  procore::AcquireDecision TryAcquire(const std::string& key, SysTime now,
                                      const procore::RateBudgetPolicy& policy) override;
  void Observe(const std::string& key, const procore::RateObservation& observation,
               const procore::RateBudgetPolicy& policy) override;
  procore::RateBudgetState Load(const std::string& key) override;

 private:
  store::Store& store_;
};

// The state as stored: compact JSON with the send log as deltas ("first,+d1,+d2..." in base 36), so an hour
// of sends at Procore's default 3,600 an hour stays near 10 KB. Exposed for tests.
std::string EncodeBudgetState(const procore::RateBudgetState& state);
Result<procore::RateBudgetState> DecodeBudgetState(const std::string& text);
std::string EncodeSendLog(const std::vector<int64_t>& sends_ms);
Result<std::vector<int64_t>> DecodeSendLog(const std::string& text);

}  // namespace kt::fleet
