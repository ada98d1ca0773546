// Router behaviour: literal and {param} segments, trailing "/*", specificity, 404 versus 405.
#include "http/router.h"

#include <gtest/gtest.h>

namespace kt::http {
namespace {

Handler Named(std::string name) {
  return [name](Request&) { return Response::Text(200, name); };
}

std::string HandlerOf(const Router::Match& m) {
  Request r;
  return m.route ? m.route->handler(r).body : "";
}

TEST(HttpRouterTest, MatchesParamsAndLiterals) {
  Router router;
  router.Get("/api/v1/clients/{client_id}/procore", Named("integration"));
  router.Post("/api/v1/clients/{client_id}/procore/projects/{project_id}/link", Named("link"));
  auto m = router.Find("GET", "/api/v1/clients/42/procore");
  ASSERT_TRUE(m.route);
  EXPECT_EQ(HandlerOf(m), "integration");
  EXPECT_EQ(m.params.at("client_id"), "42");
  m = router.Find("POST", "/api/v1/clients/7/procore/projects/99/link");
  ASSERT_TRUE(m.route);
  EXPECT_EQ(m.params.at("client_id"), "7");
  EXPECT_EQ(m.params.at("project_id"), "99");
  EXPECT_EQ(m.route->pattern, "/api/v1/clients/{client_id}/procore/projects/{project_id}/link");
}

TEST(HttpRouterTest, ExactSegmentsWinOverParams) {
  Router router;
  router.Get("/users/{id}", Named("param"));
  router.Get("/users/me", Named("me"));
  router.Get("/users/*", Named("rest"));
  EXPECT_EQ(HandlerOf(router.Find("GET", "/users/me")), "me");
  EXPECT_EQ(HandlerOf(router.Find("GET", "/users/5")), "param");
  auto m = router.Find("GET", "/users/5/photos/1");
  EXPECT_EQ(HandlerOf(m), "rest");
  EXPECT_EQ(m.params.at("*"), "5/photos/1");
}

TEST(HttpRouterTest, NotFoundVersusMethodNotAllowed) {
  Router router;
  router.Get("/things/{id}", Named("get"));
  router.Delete("/things/{id}", Named("delete"));
  auto m = router.Find("POST", "/things/1");
  EXPECT_FALSE(m.route);
  EXPECT_TRUE(m.path_matched_other_method);
  EXPECT_EQ(m.allowed_methods, (std::vector<std::string>{"GET", "DELETE"}));
  m = router.Find("GET", "/nothing");
  EXPECT_FALSE(m.route);
  EXPECT_FALSE(m.path_matched_other_method);
}

TEST(HttpRouterTest, DecodesSegmentsAfterSplitting) {
  Router router;
  router.Get("/files/{name}", Named("file"));
  auto m = router.Find("GET", "/files/a%2Fb%20c");
  ASSERT_TRUE(m.route);
  EXPECT_EQ(m.params.at("name"), "a/b c");
}

TEST(HttpRouterTest, HeadFallsBackToGetAndRootMatches) {
  Router router;
  router.Get("/", Named("root"));
  EXPECT_EQ(HandlerOf(router.Find("HEAD", "/")), "root");
  EXPECT_EQ(HandlerOf(router.Find("GET", "/")), "root");
}

TEST(HttpRouterTest, DuplicateRouteIsABug) {
  Router router;
  router.Get("/a/{x}", Named("1"));
  EXPECT_THROW(router.Get("/a/{y}", Named("2")), std::invalid_argument);
}

}  // namespace
}  // namespace kt::http
