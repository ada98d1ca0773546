// Versioned schema migrations, applied in order, each in its own transaction, recorded in schema_migrations.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "store/store.h"

namespace kt::store {

// One schema change. sql may hold several statements and these dialect tokens:
//   {{pk}}   an auto-increment BIGINT primary key (SQLite INTEGER PRIMARY KEY AUTOINCREMENT, PG BIGSERIAL
//   PRIMARY KEY)
//   {{id_pk}} a BIGINT primary key the rows bring (another table's id; SQLite INTEGER PRIMARY KEY, the
//   rowid, PG BIGINT PRIMARY KEY)
//   {{blob}} a binary column (SQLite BLOB, PG BYTEA)
struct Migration {
  int version;
  std::string name;
  std::string sql;
};

// Every migration KTrack has, in version order (see migrations.cpp: new ones are appended there).
const std::vector<Migration>& AllMigrations();

// Replaces the dialect tokens for the given database.
std::string ExpandDialectTokens(std::string_view sql, Dialect dialect);

// Applies the pending migrations of AllMigrations(); returns how many it applied (0 when up to date).
// Safe to run from several processes at once: on PostgreSQL they take turns on an advisory lock, on SQLite
// on the write lock.
Result<int> Migrate(Store& store);
// The same with a given list (tests, tools).
Result<int> Migrate(Store& store, const std::vector<Migration>& migrations);

// The highest applied version, 0 for an empty database.
Result<int> SchemaVersion(Store& store);

}  // namespace kt::store
