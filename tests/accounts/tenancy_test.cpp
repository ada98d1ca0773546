// Tenancy: a non-member gets "not found" for a client, a member on an admin route gets "forbidden".
#include <gtest/gtest.h>

#include "accounts/clients.h"
#include "accounts/memberships.h"
#include "accounts_fixture.h"

namespace kt::accounts {
namespace {

class TenancyTest : public AccountsTest {
 protected:
  void SetUp() override {
    AccountsTest::SetUp();
    Users users(*db_, clock_, FastUsers());
    Clients clients(*db_, clock_);
    acme_ = clients.Create("Acme Builders")->id;
    zenith_ = clients.Create("  Zenith Owners  ")->id;
    admin_ = users.Create("admin@acme.test", "password-1")->id;
    member_ = users.Create("member@acme.test", "password-2")->id;
    outsider_ = users.Create("someone@zenith.test", "password-3")->id;
    Memberships memberships(*db_, clock_);
    ASSERT_TRUE(memberships.Add(acme_, admin_, Role::kAdmin));
    ASSERT_TRUE(memberships.Add(acme_, member_, Role::kMember));
    ASSERT_TRUE(memberships.Add(zenith_, outsider_, Role::kAdmin));
  }

  int64_t acme_ = 0, zenith_ = 0, admin_ = 0, member_ = 0, outsider_ = 0;
};

TEST_P(TenancyTest, NonMemberGetsClientNotFoundOnEveryRoute) {
  Memberships memberships(*db_, clock_);
  for (bool admin_route : {false, true}) {
    auto denied = memberships.AuthorizeClient(outsider_, acme_, admin_route);
    ASSERT_FALSE(denied);
    EXPECT_EQ(denied.error().kind, ErrorKind::kNotFound);
    EXPECT_EQ(denied.error().code, "client_not_found");
    EXPECT_EQ(HttpStatusFor(denied.error().kind), 404);
  }
  // A client that does not exist answers the same, so ids reveal nothing.
  auto missing = memberships.AuthorizeClient(admin_, 999'999, false);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, "client_not_found");
}

TEST_P(TenancyTest, MemberOnAnAdminRouteGetsForbidden) {
  Memberships memberships(*db_, clock_);
  auto ok = memberships.AuthorizeClient(member_, acme_, false);
  ASSERT_TRUE(ok);
  EXPECT_EQ(*ok, Role::kMember);

  auto denied = memberships.AuthorizeClient(member_, acme_, true);
  ASSERT_FALSE(denied);
  EXPECT_EQ(denied.error().kind, ErrorKind::kForbidden);
  EXPECT_EQ(denied.error().code, "admin_required");
  EXPECT_EQ(HttpStatusFor(denied.error().kind), 403);

  auto admin = memberships.AuthorizeClient(admin_, acme_, true);
  ASSERT_TRUE(admin);
  EXPECT_EQ(*admin, Role::kAdmin);
}

TEST_P(TenancyTest, RolesChangeAndMembershipsEnd) {
  Memberships memberships(*db_, clock_);
  ASSERT_TRUE(memberships.Add(acme_, member_, Role::kAdmin));
  EXPECT_EQ(memberships.RoleOf(acme_, member_)->value(), Role::kAdmin);
  EXPECT_TRUE(*memberships.Remove(acme_, member_));
  EXPECT_FALSE(memberships.RoleOf(acme_, member_)->has_value());
  EXPECT_EQ(memberships.AuthorizeClient(member_, acme_, false).error().code, "client_not_found");

  auto unknown = memberships.Add(999'999, member_, Role::kMember);
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code, "client_or_user_not_found");
}

TEST_P(TenancyTest, ClientListShowsOnlyTheUsersClientsWithRoles) {
  Clients clients(*db_, clock_);
  Memberships memberships(*db_, clock_);
  ASSERT_TRUE(memberships.Add(zenith_, member_, Role::kAdmin));
  auto listed = clients.ListForUser(member_);
  ASSERT_TRUE(listed);
  ASSERT_EQ(listed->size(), 2u);
  EXPECT_EQ((*listed)[0].client.name, "Acme Builders");
  EXPECT_EQ((*listed)[0].role, Role::kMember);
  EXPECT_EQ((*listed)[1].client.name, "Zenith Owners");  // trimmed
  EXPECT_EQ((*listed)[1].role, Role::kAdmin);

  auto outsider = clients.ListForUser(outsider_);
  ASSERT_EQ(outsider->size(), 1u);
  EXPECT_EQ(outsider->front().client.id, zenith_);

  EXPECT_EQ(clients.Get(acme_)->name, "Acme Builders");
  EXPECT_EQ(clients.Get(424242).error().code, "client_not_found");
  EXPECT_EQ(clients.Create("   ").error().code, "client_name_invalid");
}

TEST(RoleTest, NamesRoundTrip) {
  EXPECT_EQ(ParseRole(RoleName(Role::kAdmin)), Role::kAdmin);
  EXPECT_EQ(ParseRole(RoleName(Role::kMember)), Role::kMember);
  EXPECT_FALSE(ParseRole("owner"));
  EXPECT_FALSE(ParseRole("Admin"));
}

KT_ACCOUNTS_ON_BOTH_BACKENDS(TenancyTest);

}  // namespace
}  // namespace kt::accounts
