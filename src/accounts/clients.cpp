// Clients (tenants).
#include "accounts/clients.h"

#include "util/strings.h"

namespace kt::accounts {

Clients::Clients(store::Store& store, Clock& clock) : store_(store), clock_(clock) {}

Result<Client> Clients::Create(std::string_view name) {
  std::string trimmed(Trim(name));
  if (trimmed.empty() || trimmed.size() > 200) {
    return Fail(ErrorKind::kInvalidInput, "client_name_invalid",
                "A client needs a name of 1 to 200 characters.", "Give the client a name.");
  }
  Client client{0, trimmed, clock_.NowUnixMs()};
  auto rows = store_.Query("INSERT INTO clients (name, created_at) VALUES ($1, $2) RETURNING id",
                           {client.name, client.created_at});
  if (!rows) return tl::unexpected(rows.error());
  client.id = rows->rows.front().Int("id");
  return client;
}

Result<Client> Clients::Get(int64_t client_id) {
  auto rows = store_.Query("SELECT id, name, created_at FROM clients WHERE id = $1", {client_id});
  if (!rows) return tl::unexpected(rows.error());
  if (rows->empty()) {
    return Fail(ErrorKind::kNotFound, "client_not_found", "There is no such client.",
                "Pick one of your clients from the client list.");
  }
  const store::Row& row = rows->rows.front();
  return Client{row.Int("id"), row.Text("name"), row.Int("created_at")};
}

Result<std::vector<Client>> Clients::List() {
  auto rows = store_.Query("SELECT id, name, created_at FROM clients ORDER BY name, id", {});
  if (!rows) return tl::unexpected(rows.error());
  std::vector<Client> out;
  out.reserve(rows->rows.size());
  for (const store::Row& row : rows->rows)
    out.push_back({row.Int("id"), row.Text("name"), row.Int("created_at")});
  return out;
}

Result<std::vector<ClientMembership>> Clients::ListForUser(int64_t user_id) {
  auto rows = store_.Query(
      "SELECT c.id, c.name, c.created_at, m.role FROM clients c JOIN memberships m ON m.client_id = c.id "
      "WHERE m.user_id = $1 ORDER BY c.name, c.id",
      {user_id});
  if (!rows) return tl::unexpected(rows.error());
  std::vector<ClientMembership> out;
  out.reserve(rows->rows.size());
  for (const store::Row& row : rows->rows) {
    out.push_back({Client{row.Int("id"), row.Text("name"), row.Int("created_at")},
                   ParseRole(row.Text("role")).value_or(Role::kMember)});
  }
  return out;
}

}  // namespace kt::accounts
