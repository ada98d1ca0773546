// Headers, cookies and the error body every API answer uses.
#include "http/message.h"

#include <gtest/gtest.h>

namespace kt::http {
namespace {

TEST(HttpMessageTest, HeadersAreCaseInsensitive) {
  Headers h;
  h.Add("Content-Type", "text/plain");
  h.Add("Set-Cookie", "a=1");
  h.Add("set-cookie", "b=2");
  EXPECT_EQ(h.Get("content-type"), "text/plain");
  h.Set("SET-COOKIE", "c=3");
  EXPECT_EQ(h.items().size(), 2u);
  EXPECT_EQ(h.Get("set-cookie"), "c=3");
  h.Remove("CONTENT-TYPE");
  EXPECT_FALSE(h.Get("content-type"));
}

TEST(HttpMessageTest, ViewsReadWithoutCopying) {
  Request r;
  r.headers.Add("Authorization", "Bearer a-long-enough-secret-to-need-the-heap");
  r.headers.Add("authorization", "second");
  EXPECT_EQ(r.headers.View("AUTHORIZATION"), "Bearer a-long-enough-secret-to-need-the-heap");  // the first
  EXPECT_EQ(r.headers.View("AUTHORIZATION").data(), r.headers.items()[0].second.data());       // not a copy
  EXPECT_EQ(r.headers.View("Content-Type"), "");
  r.path_params["integration_key"] = "abc_DEF-123";
  EXPECT_EQ(r.PathParamView("integration_key"), "abc_DEF-123");
  EXPECT_EQ(r.PathParamView("other"), "");
  EXPECT_EQ(r.PathParam("integration_key"), "abc_DEF-123");
}

TEST(HttpMessageTest, Cookie) {
  Request r;
  r.headers.Add("Cookie", "theme=dark; kt_session=abc123; empty=");
  EXPECT_EQ(r.Cookie("kt_session"), "abc123");
  EXPECT_EQ(r.Cookie("empty"), "");
  EXPECT_FALSE(r.Cookie("session"));
}

TEST(HttpMessageTest, FromErrorSendsNoDetail) {
  Error e{ErrorKind::kUnprocessable, "invalid_credentials", "Procore refused the client id and secret",
          "check the app's credentials", "secret=hunter2"};
  Response r = Response::FromError(e);
  EXPECT_EQ(r.status, 422);
  auto body = nlohmann::json::parse(r.body);
  EXPECT_EQ(body["error"]["code"], "invalid_credentials");
  EXPECT_EQ(body["error"]["fix"], "check the app's credentials");
  EXPECT_EQ(r.body.find("hunter2"), std::string::npos);
  EXPECT_EQ(r.headers.Get("content-type"), "application/json");

  Response d = Response::FromError(Error{ErrorKind::kNotFound, "", "no such client", "", ""});
  EXPECT_EQ(d.status, 404);
  EXPECT_EQ(nlohmann::json::parse(d.body)["error"]["code"], "not_found");
}

TEST(HttpMessageTest, RedirectAndHtml) {
  Response r = Response::Redirect("/login");
  EXPECT_EQ(r.status, 303);
  EXPECT_EQ(r.headers.Get("Location"), "/login");
  EXPECT_EQ(Response::Html(200, "<p>").headers.Get("content-type"), "text/html; charset=utf-8");
}

}  // namespace
}  // namespace kt::http
