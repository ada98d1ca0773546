// A named lease in the database (table fleet_leases): at most one process holds it at a time, until it stops
// renewing it. `ktrack serve` runs its periodic schedulers only while it holds the "scheduler" lease, so
// they run once across the fleet rather than once per process.
#pragma once

#include <string>

#include "store/store.h"
#include "util/clock.h"
#include "util/error.h"

namespace kt::fleet {

class FleetLease {
 public:
  // holder: this process's name, unique across the fleet (e.g. host-pid-random).
  FleetLease(store::Store& store, Clock& clock, std::string name, std::string holder);

  // Takes the lease when it is free or expired, or renews it when this holder has it, for `lease` from now.
  // true: this process holds it until then. false: another holder's lease is in force. On SQLite, a lease
  // held by a process of this machine that is gone (ProcessHolderName's host and pid) is taken at once.
  Result<bool> Hold(Millis lease);
  // Gives the lease up (on shutdown), so another process takes over at once rather than after it expires.
  Status Release();

  const std::string& name() const { return name_; }
  const std::string& holder() const { return holder_; }

 private:
  Result<bool> TryHold(Millis lease);

  store::Store& store_;
  Clock& clock_;
  std::string name_;
  std::string holder_;
};

// A holder name for this process: host, pid and a random suffix (pids repeat across machines and restarts).
std::string ProcessHolderName();

}  // namespace kt::fleet
