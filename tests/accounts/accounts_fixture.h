// A migrated store (SQLite, and the test run's PostgreSQL) and a manual clock, for the accounts tests.
#pragma once

#include <cctype>
#include <memory>
#include <ostream>
#include <string>

#include <gtest/gtest.h>

#include "accounts/users.h"
#include "postgres.h"
#include "process.h"
#include "store/migrations.h"
#include "store/store.h"
#include "util/clock.h"

namespace kt::accounts {

enum class Backend { kSqlite, kPostgres };
inline void PrintTo(Backend b, std::ostream* os) {
  *os << (b == Backend::kSqlite ? "Sqlite" : "Postgres");
}
inline std::string BackendTestName(const ::testing::TestParamInfo<Backend>& info) {
  return info.param == Backend::kSqlite ? "Sqlite" : "Postgres";
}

// Every accounts test runs on both backends: the SQL is written once and must mean the same on each.
class AccountsTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    std::string url = "sqlite:" + dir_.path() + "/t.db";
    if (GetParam() == Backend::kPostgres) {
      std::string why_not;
      ASSERT_TRUE(testing::PostgresServer::Available(&why_not)) << why_not;
      url = testing::PostgresServer::Instance().CreateDatabase(DatabaseName());
    }
    auto opened = store::OpenStore(url);
    ASSERT_TRUE(opened) << opened.error().message << " " << opened.error().detail;
    db_ = std::move(*opened);
    auto migrated = store::Migrate(*db_);
    ASSERT_TRUE(migrated) << migrated.error().message << " " << migrated.error().detail;
  }

  // Argon2id at its lowest limits: the tests hash dozens of passwords.
  static UsersOptions FastUsers() {
    UsersOptions options;
    options.password = crypto::PasswordHashOptions::Fastest();
    return options;
  }

  testing::TempDir dir_;
  ManualClock clock_;
  std::unique_ptr<store::Store> db_;

 private:
  // "a_<suite>_<test>" in [a-z0-9_], unique within the test process.
  static std::string DatabaseName() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    std::string name = std::string("a_") + info->test_suite_name() + "_" + info->name();
    for (char& c : name) {
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) c = '_';
    }
    return name.substr(0, 60);
  }
};

#define KT_ACCOUNTS_ON_BOTH_BACKENDS(Suite)                                                         \
  INSTANTIATE_TEST_SUITE_P(Backend, Suite, ::testing::Values(Backend::kSqlite, Backend::kPostgres), \
                           BackendTestName)

}  // namespace kt::accounts
