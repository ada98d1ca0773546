// A migrated SQLite store in a temporary folder, and a manual clock, for the accounts tests.
#pragma once

#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "accounts/users.h"
#include "process.h"
#include "store/migrations.h"
#include "store/store.h"
#include "util/clock.h"

namespace kt::accounts {

class AccountsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto opened = store::OpenStore("sqlite:" + dir_.path() + "/t.db");
    ASSERT_TRUE(opened) << opened.error().message;
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
};

}  // namespace kt::accounts
