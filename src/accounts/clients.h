// Clients: the tenants of KTrack (an owner or builder organisation), each with its own data and members.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "accounts/memberships.h"
#include "store/store.h"
#include "util/clock.h"
#include "util/error.h"

namespace kt::accounts {

struct Client {
  int64_t id = 0;
  std::string name;
  int64_t created_at = 0;
};

// A client as one of its members sees it in the client picker.
struct ClientMembership {
  Client client;
  Role role = Role::kMember;
};

class Clients {
 public:
  Clients(store::Store& store, Clock& clock);

  // The name is trimmed; kInvalidInput "client_name_invalid" when it is empty or longer than 200 bytes.
  Result<Client> Create(std::string_view name);
  // kNotFound "client_not_found". Does not check membership: call Memberships::AuthorizeClient first.
  Result<Client> Get(int64_t client_id);
  // Every client, by name (the operator's view: `ktrack client list`).
  Result<std::vector<Client>> List();
  // The clients the user is a member of, by name.
  Result<std::vector<ClientMembership>> ListForUser(int64_t user_id);

 private:
  store::Store& store_;
  Clock& clock_;
};

}  // namespace kt::accounts
