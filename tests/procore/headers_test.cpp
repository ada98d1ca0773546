// Link, X-Rate-Limit-*, Retry-After and HTTP-date parsing, including hostile input.
#include "procore/headers.h"

#include <gtest/gtest.h>

#include <random>

namespace kt::procore {
namespace {

TEST(LinkHeader, ProcoreFirstPageHasNextAndLast) {
  auto links = ParseLinkHeader(
      "<https://api.procore.com/rest/v1.0/projects/1/rfis?page=2&per_page=100>; rel=\"next\", "
      "<https://api.procore.com/rest/v1.0/projects/1/rfis?page=7&per_page=100>; rel=\"last\"");
  ASSERT_EQ(links.size(), 2u);
  EXPECT_EQ(FindLink(links, "next"), "https://api.procore.com/rest/v1.0/projects/1/rfis?page=2&per_page=100");
  EXPECT_EQ(FindLink(links, "last"), "https://api.procore.com/rest/v1.0/projects/1/rfis?page=7&per_page=100");
  EXPECT_FALSE(FindLink(links, "prev"));
}

TEST(LinkHeader, LastPageHasNoNext) {
  auto links = ParseLinkHeader("</x?page=1>; rel=\"first\", </x?page=6>; rel=\"prev\"");
  EXPECT_FALSE(FindLink(links, "next"));
  EXPECT_EQ(FindLink(links, "prev"), "/x?page=6");
}

TEST(LinkHeader, CommasInsideTargetsAndQuotedStrings) {
  auto links = ParseLinkHeader(
      "</x?filters[id]=1,2,3&page=2>; rel=\"next\"; title=\"a, b; c\", </x?page=9>; rel=last");
  ASSERT_EQ(links.size(), 2u);
  EXPECT_EQ(FindLink(links, "next"), "/x?filters[id]=1,2,3&page=2");
  EXPECT_EQ(FindLink(links, "last"), "/x?page=9");
  ASSERT_EQ(links[0].params.size(), 1u);
  EXPECT_EQ(links[0].params[0].second, "a, b; c");
}

TEST(LinkHeader, CaseWhitespaceMultipleRelsAndEscapes) {
  auto links = ParseLinkHeader("  < /a >  ;  REL = \"Next  Last\" ;x=\"q\\\"uote\",,,</b>;rel=prev;rel=next");
  ASSERT_EQ(links.size(), 2u);
  EXPECT_EQ(FindLink(links, "next"), "/a");
  EXPECT_EQ(FindLink(links, "last"), "/a");
  EXPECT_EQ(links[0].params[0].second, "q\"uote");
  // A repeated rel is ignored (RFC 8288): </b> is only "prev".
  EXPECT_EQ(FindLink(links, "prev"), "/b");
  EXPECT_EQ(links[1].rels.size(), 1u);
}

TEST(LinkHeader, GarbageIsSkippedNotFatal) {
  EXPECT_TRUE(ParseLinkHeader("").empty());
  EXPECT_TRUE(ParseLinkHeader("garbage").empty());
  EXPECT_TRUE(ParseLinkHeader("<unterminated; rel=next").empty());
  auto links = ParseLinkHeader("nonsense; rel=\"x, y\", </ok>; rel=next");
  ASSERT_EQ(links.size(), 1u);
  EXPECT_EQ(FindLink(links, "next"), "/ok");
  auto unterminated_quote = ParseLinkHeader("</a>; rel=\"next");
  EXPECT_EQ(FindLink(unterminated_quote, "next"), "/a");
}

TEST(LinkHeader, SurvivesRandomInput) {
  std::mt19937 rng(7);
  const std::string alphabet = "<>;=\",\\ \trelnxt/?&a1";
  for (int i = 0; i < 20000; ++i) {
    std::string s;
    int n = static_cast<int>(rng() % 60);
    for (int k = 0; k < n; ++k) s.push_back(alphabet[rng() % alphabet.size()]);
    auto links = ParseLinkHeader(s);
    for (const auto& l : links) {
      for (const auto& r : l.rels) EXPECT_FALSE(r.empty());
    }
  }
}

TEST(JoinedHeader, SplitLinkHeadersAreJoined) {
  http::Headers h;
  h.Add("Link", "</a?page=2>; rel=\"next\"");
  h.Add("link", "</a?page=3>; rel=\"last\"");
  auto links = ParseLinkHeader(JoinedHeader(h, "Link"));
  EXPECT_EQ(FindLink(links, "next"), "/a?page=2");
  EXPECT_EQ(FindLink(links, "last"), "/a?page=3");
}

TEST(RateLimitHeaders, ParsesAndRejectsGarbage) {
  auto r = ParseRateLimitHeaders(" 25 ", "24", "1700000010");
  EXPECT_EQ(r.limit, 25);
  EXPECT_EQ(r.remaining, 24);
  EXPECT_EQ(r.reset, 1700000010);
  EXPECT_TRUE(r.present());

  auto bad = ParseRateLimitHeaders("-1", "abc", "");
  EXPECT_FALSE(bad.limit);
  EXPECT_FALSE(bad.remaining);
  EXPECT_FALSE(bad.reset);
  EXPECT_FALSE(bad.present());

  EXPECT_EQ(ParseRateLimitHeaders("3600", "0", "1700000010.75").reset, 1700000010);
  EXPECT_FALSE(ParseRateLimitHeaders("99999999999999999999999", "", "").limit);
  EXPECT_FALSE(ParseRateLimitHeaders("1e3", "", "").limit);
  EXPECT_FALSE(ParseRateLimitHeaders(".5", "", "").limit);
}

TEST(RateLimitHeaders, FromResponseHeadersCaseInsensitive) {
  http::Headers h;
  h.Add("x-rate-limit-limit", "600");
  h.Add("X-RATE-LIMIT-REMAINING", "12");
  h.Add("X-Rate-Limit-Reset", "1700003600");
  auto r = ParseRateLimitHeaders(h);
  EXPECT_EQ(r.limit, 600);
  EXPECT_EQ(r.remaining, 12);
  EXPECT_EQ(r.reset, 1700003600);
}

TEST(HttpDate, AllThreeForms) {
  SysTime expected(std::chrono::seconds(784111777));  // Sun, 06 Nov 1994 08:49:37 GMT
  EXPECT_EQ(ParseHttpDate("Sun, 06 Nov 1994 08:49:37 GMT"), expected);
  EXPECT_EQ(ParseHttpDate("Sunday, 06-Nov-94 08:49:37 GMT"), expected);
  EXPECT_EQ(ParseHttpDate("Sun Nov  6 08:49:37 1994"), expected);
  EXPECT_FALSE(ParseHttpDate("Sun, 06 Nov 1994 25:49:37 GMT"));
  EXPECT_FALSE(ParseHttpDate("yesterday"));
  EXPECT_FALSE(ParseHttpDate(""));
  EXPECT_EQ(FormatHttpDate(expected), "Sun, 06 Nov 1994 08:49:37 GMT");
  SysTime t(std::chrono::seconds(1'700'000'000));
  EXPECT_EQ(ParseHttpDate(FormatHttpDate(t)), t);
}

TEST(RetryAfter, SecondsAndDates) {
  SysTime now(std::chrono::seconds(1'700'000'000));
  EXPECT_EQ(ParseRetryAfter("120", now), Millis(120'000));
  EXPECT_EQ(ParseRetryAfter(" 0 ", now), Millis(0));
  EXPECT_EQ(ParseRetryAfter(FormatHttpDate(now + std::chrono::seconds(30)), now), Millis(30'000));
  EXPECT_EQ(ParseRetryAfter(FormatHttpDate(now - std::chrono::seconds(30)), now), Millis(0));
  EXPECT_EQ(ParseRetryAfter("999999999999", now, Millis(3'600'000)), Millis(3'600'000));
  EXPECT_FALSE(ParseRetryAfter("soon", now));
  EXPECT_FALSE(ParseRetryAfter("", now));
  EXPECT_FALSE(ParseRetryAfter("-5", now));
}

}  // namespace
}  // namespace kt::procore
