// Who belongs to which client, with what role, and the one tenancy rule every data access goes through.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "store/store.h"
#include "util/clock.h"
#include "util/error.h"

namespace kt::accounts {

enum class Role { kAdmin, kMember };

// "admin" or "member", as stored and as the CLI takes it.
std::string_view RoleName(Role role);
std::optional<Role> ParseRole(std::string_view name);

class Memberships {
 public:
  Memberships(store::Store& store, Clock& clock);

  // Adds the user to the client, or changes the role of a member. kNotFound "client_or_user_not_found" when
  // either does not exist.
  Status Add(int64_t client_id, int64_t user_id, Role role);
  // True when the user was a member.
  Result<bool> Remove(int64_t client_id, int64_t user_id);
  // nullopt when the user is not a member of the client.
  Result<std::optional<Role>> RoleOf(int64_t client_id, int64_t user_id);

  // The tenancy rule. A non-member gets kNotFound "client_not_found" (the same answer as for a client that
  // does not exist, so client ids reveal nothing); a member on an admin-only route gets kForbidden
  // "admin_required". Returns the member's role otherwise.
  Result<Role> AuthorizeClient(int64_t user_id, int64_t client_id, bool admin_required);

 private:
  store::Store& store_;
  Clock& clock_;
};

}  // namespace kt::accounts
