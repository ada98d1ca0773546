// Named leases in the fleet_leases table: taken, renewed and given up with one upsert each.
#include "fleet/lease.h"

#include "util/process.h"
#include "util/random.h"

namespace kt::fleet {

FleetLease::FleetLease(store::Store& store, Clock& clock, std::string name, std::string holder)
    : store_(store), clock_(clock), name_(std::move(name)), holder_(std::move(holder)) {}

Result<bool> FleetLease::Hold(Millis lease) {
  auto held = TryHold(lease);
  if (!held || *held) return held;
  // On SQLite (one machine), a holder "<this host>-<pid>-..." whose process is gone was killed: its lease is
  // ended now rather than waited out (a restarted server schedules at once, not a minute later).
  if (store_.dialect() != store::Dialect::kSqlite) return held;
  auto current = store_.Query("SELECT holder FROM fleet_leases WHERE name = $1", {name_});
  if (!current) return tl::unexpected(current.error());
  if (current->empty()) return held;
  const std::string holder = current->rows[0].Text(0);
  if (holder == holder_ || !WrittenByAProcessGoneFromHere(holder)) return held;
  auto ended =
      store_.Exec("UPDATE fleet_leases SET lease_until = 0 WHERE name = $1 AND holder = $2", {name_, holder});
  if (!ended) return tl::unexpected(ended.error());
  return TryHold(lease);
}

Result<bool> FleetLease::TryHold(Millis lease) {
  const int64_t now = clock_.NowUnixMs();
  // One statement on both backends: the row is inserted, or updated when it is ours or has expired; the
  // conflict check and the update happen under the row's lock, so two processes cannot both win.
  auto r = store_.Query(
      "INSERT INTO fleet_leases (name, holder, lease_until, updated_at) VALUES ($1, $2, $3, $4) "
      "ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, lease_until = excluded.lease_until, "
      "updated_at = excluded.updated_at "
      "WHERE fleet_leases.holder = excluded.holder OR fleet_leases.lease_until <= excluded.updated_at "
      "RETURNING holder",
      {name_, holder_, now + lease.count(), now});
  if (!r) return tl::unexpected(r.error());
  return !r->empty() && r->rows[0].Text(0) == holder_;
}

Status FleetLease::Release() {
  auto r =
      store_.Exec("UPDATE fleet_leases SET lease_until = 0, updated_at = $3 WHERE name = $1 AND holder = $2",
                  {name_, holder_, clock_.NowUnixMs()});
  if (!r) return tl::unexpected(r.error());
  return {};
}

std::string ProcessHolderName() {
  return ProcessTag() + std::to_string(DefaultRandom().UniformInt(0, 999'999));
}

}  // namespace kt::fleet
