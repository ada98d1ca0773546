// The PostgreSQL backend of the Store (libpq): a connection pool, text parameters, reconnect and retry.
#pragma once

#include <memory>
#include <string>

#include "store/store.h"

namespace kt::store {

// Connects to a "postgresql://..." URL (libpq's URI syntax). Fails with kStoreUnavailable when unreachable.
Result<std::unique_ptr<Store>> OpenPostgresStore(const std::string& url, const StoreOptions& options = {});

// The URL without user, password or query parameters: "postgresql://host:port/db".
std::string RedactPostgresUrl(const std::string& url);

}  // namespace kt::store
