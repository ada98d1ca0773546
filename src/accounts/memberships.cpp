// Memberships and client authorization.
#include "accounts/memberships.h"

namespace kt::accounts {

std::string_view RoleName(Role role) {
  return role == Role::kAdmin ? "admin" : "member";
}

std::optional<Role> ParseRole(std::string_view name) {
  if (name == "admin") return Role::kAdmin;
  if (name == "member") return Role::kMember;
  return std::nullopt;
}

Memberships::Memberships(store::Store& store, Clock& clock) : store_(store), clock_(clock) {}

Status Memberships::Add(int64_t client_id, int64_t user_id, Role role) {
  auto r = store_.Exec(
      "INSERT INTO memberships (client_id, user_id, role, created_at) VALUES ($1, $2, $3, $4) "
      "ON CONFLICT (client_id, user_id) DO UPDATE SET role = excluded.role",
      {client_id, user_id, std::string(RoleName(role)), clock_.NowUnixMs()});
  if (!r) {
    if (r.error().code == store::kConstraintViolation) {
      return Fail(ErrorKind::kNotFound, "client_or_user_not_found", "There is no such client or user.",
                  "Check the client id and the user's email.", r.error().detail);
    }
    return tl::unexpected(r.error());
  }
  return {};
}

Result<bool> Memberships::Remove(int64_t client_id, int64_t user_id) {
  auto n = store_.Exec("DELETE FROM memberships WHERE client_id = $1 AND user_id = $2", {client_id, user_id});
  if (!n) return tl::unexpected(n.error());
  return *n > 0;
}

Result<std::optional<Role>> Memberships::RoleOf(int64_t client_id, int64_t user_id) {
  auto rows = store_.Query("SELECT role FROM memberships WHERE client_id = $1 AND user_id = $2",
                           {client_id, user_id});
  if (!rows) return tl::unexpected(rows.error());
  if (rows->empty()) return std::optional<Role>();
  return ParseRole(rows->rows.front().Text("role"));
}

Result<Role> Memberships::AuthorizeClient(int64_t user_id, int64_t client_id, bool admin_required) {
  auto role = RoleOf(client_id, user_id);
  if (!role) return tl::unexpected(role.error());
  if (!*role) {
    return Fail(ErrorKind::kNotFound, "client_not_found", "There is no such client.",
                "Pick one of your clients from the client list.");
  }
  if (admin_required && **role != Role::kAdmin) {
    return Fail(ErrorKind::kForbidden, "admin_required", "Only an admin of this client can do this.",
                "Ask an admin of the client to do it, or to make you an admin.");
  }
  return **role;
}

}  // namespace kt::accounts
