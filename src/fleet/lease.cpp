// Named leases in the fleet_leases table: taken, renewed and given up with one upsert each.
#include "fleet/lease.h"

#include <unistd.h>

#include "util/random.h"

namespace kt::fleet {

FleetLease::FleetLease(store::Store& store, Clock& clock, std::string name, std::string holder)
    : store_(store), clock_(clock), name_(std::move(name)), holder_(std::move(holder)) {}

Result<bool> FleetLease::Hold(Millis lease) {
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
  char host[256] = {0};
  ::gethostname(host, sizeof host - 1);
  return std::string(host) + "-" + std::to_string(::getpid()) + "-" +
         std::to_string(DefaultRandom().UniformInt(0, 999'999));
}

}  // namespace kt::fleet
