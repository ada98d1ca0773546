// The SQLite backend of the Store: one database file in WAL mode, a small connection pool, serialized
// writers.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "store/store.h"

namespace kt::store {

// Opens (creating the file and its parent folders) the database at path; ":memory:" keeps one connection.
Result<std::unique_ptr<Store>> OpenSqliteStore(const std::string& path, const StoreOptions& options = {});

// Rewrites the portable `$N` placeholders as SQLite's `?N`, leaving string literals, quoted names and
// comments.
std::string SqliteSql(std::string_view portable_sql);

}  // namespace kt::store
