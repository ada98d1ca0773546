// The webhook receiver's checks that need no server: which content types it takes.
#include <gtest/gtest.h>

#include "integration/webhook_receiver.h"

namespace kt::integration {
namespace {

// JSON bodies only: application/json (any case, with parameters) and application/*+json.
TEST(WebhookContentType, AcceptsJsonTypesOnly) {
  EXPECT_TRUE(IsJsonContentType("application/json"));
  EXPECT_TRUE(IsJsonContentType("Application/JSON; charset=utf-8"));
  EXPECT_TRUE(IsJsonContentType("  application/json  "));
  EXPECT_TRUE(IsJsonContentType("application/vnd.procore+json"));
  EXPECT_FALSE(IsJsonContentType("text/plain"));
  EXPECT_FALSE(IsJsonContentType("application/x-www-form-urlencoded"));
  EXPECT_FALSE(IsJsonContentType("text/vnd.x+json"));
  EXPECT_FALSE(IsJsonContentType("application/+json"));
  EXPECT_FALSE(IsJsonContentType("application/jsonp"));
  EXPECT_FALSE(IsJsonContentType(""));
}

}  // namespace
}  // namespace kt::integration
