// Backend-independent pieces of the store: placeholder rewriting, row conversions, URLs and opening errors.
#include <gtest/gtest.h>

#include <limits>

#include "process.h"
#include "store/migrations.h"
#include "store/postgres/postgres_store.h"
#include "store/sqlite/sqlite_store.h"
#include "store/store.h"

namespace kt::store {
namespace {

// Suites start with "store_" so that `ctest -R store` selects them.

TEST(store_SqliteSql, RewritesPlaceholdersOutsideLiteralsAndComments) {
  EXPECT_EQ(SqliteSql("SELECT * FROM t WHERE a = $1 AND b = $12"),
            "SELECT * FROM t WHERE a = ?1 AND b = ?12");
  EXPECT_EQ(SqliteSql("SELECT '$1', \"$2\", $3 -- $4\n, $5 /* $6 */"),
            "SELECT '$1', \"$2\", ?3 -- $4\n, ?5 /* $6 */");
  EXPECT_EQ(SqliteSql("SELECT 'it''s $1', $2"), "SELECT 'it''s $1', ?2");
  EXPECT_EQ(SqliteSql("SELECT '$' || $1"), "SELECT '$' || ?1");
}

Row MakeRow(std::vector<Value> values) {
  auto columns = std::make_shared<std::vector<std::string>>();
  for (size_t i = 0; i < values.size(); ++i) columns->push_back("c" + std::to_string(i));
  return Row(columns, std::move(values));
}

TEST(store_Row, ConvertsOnlyWithoutLoss) {
  Row row = MakeRow(
      {int64_t{42}, 3.0, std::string("9007199254740993"), Blob{"ab"}, nullptr, 2.5, std::string("x")});
  EXPECT_EQ(row.Int(0), 42);
  EXPECT_EQ(row.Int(1), 3);
  EXPECT_EQ(row.Int(2), 9007199254740993);
  EXPECT_EQ(row.Text(0), "42");
  EXPECT_EQ(row.Text(3), "ab");
  EXPECT_DOUBLE_EQ(row.Double(0), 42.0);
  EXPECT_DOUBLE_EQ(row.Double("c5"), 2.5);
  EXPECT_TRUE(row.IsNull("c4"));
  EXPECT_EQ(row.OptInt("c4"), std::nullopt);
  EXPECT_EQ(row.OptText("c6"), "x");
  EXPECT_THROW(row.Int(5), std::logic_error);  // 2.5 is not an integer
  EXPECT_THROW(row.Int(6), std::logic_error);
  EXPECT_THROW(row.Int(4), std::logic_error);  // NULL: use OptInt
  EXPECT_THROW(row.Index("missing"), std::out_of_range);
}

TEST(store_PostgresUrl, DescribeDropsUserPasswordAndQuery) {
  EXPECT_EQ(
      RedactPostgresUrl("postgresql://ktrack:p%40ss@db.internal:5432/ktrack?sslmode=require&password=x"),
      "postgresql://db.internal:5432/ktrack");
  EXPECT_EQ(RedactPostgresUrl("postgres://host/db"), "postgres://host/db");
}

TEST(store_OpenStore, RefusesUnknownSchemesAndUnreachableServers) {
  auto bad = OpenStore("mysql://localhost/x");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().kind, ErrorKind::kInvalidInput);
  auto down = OpenStore("postgresql://ktrack:hunter2@127.0.0.1:1/ktrack?connect_timeout=2");
  ASSERT_FALSE(down);
  EXPECT_EQ(down.error().code, kStoreUnavailable);
  EXPECT_EQ(down.error().fix.find("hunter2"), std::string::npos);
  EXPECT_EQ(down.error().message.find("hunter2"), std::string::npos);
}

TEST(store_OpenStore, SqliteCreatesParentFoldersAndUsesWal) {
  testing::TempDir dir;
  auto store = OpenStore("sqlite:" + dir.path() + "/a/b/c.db");
  ASSERT_TRUE(store) << store.error().detail;
  auto mode = (*store)->Query("PRAGMA journal_mode");
  ASSERT_TRUE(mode);
  EXPECT_EQ(mode->rows[0].Text(0), "wal");
  auto fk = (*store)->Query("PRAGMA foreign_keys");
  ASSERT_TRUE(fk);
  EXPECT_EQ(fk->rows[0].Int(0), 1);
}

TEST(store_Migrations, DialectTokens) {
  EXPECT_EQ(ExpandDialectTokens("id {{pk}}, b {{blob}}", Dialect::kSqlite),
            "id INTEGER PRIMARY KEY AUTOINCREMENT, b BLOB");
  EXPECT_EQ(ExpandDialectTokens("id {{pk}}, b {{blob}}", Dialect::kPostgres),
            "id BIGSERIAL PRIMARY KEY, b BYTEA");
  int last = 0;
  for (const auto& m : AllMigrations()) {
    EXPECT_GT(m.version, last);
    last = m.version;
  }
}

}  // namespace
}  // namespace kt::store
