// Behaviour of the string, time and hash helpers that parsers and checksums rely on.
#include <gtest/gtest.h>

#include <limits>

#include "util/hash.h"
#include "util/strings.h"

namespace kt {
namespace {

TEST(Strings, QueryRoundTripDecodesBracketsAndSpaces) {
  auto q = ParseQuery("filters%5Bupdated_at%5D=2026-01-01T00%3A00%3A00Z...2026-01-02&per_page=100&name=a+b");
  ASSERT_EQ(q.size(), 3u);
  EXPECT_EQ(q[0].first, "filters[updated_at]");
  EXPECT_EQ(q[0].second, "2026-01-01T00:00:00Z...2026-01-02");
  EXPECT_EQ(FindParam(q, "name"), "a b");
  EXPECT_EQ(ParseQuery(BuildQuery(q)), q);
}

TEST(Strings, PageOffsetSaturatesInsteadOfOverflowing) {
  EXPECT_EQ(PageOffset(1, 100), 0);
  EXPECT_EQ(PageOffset(3, 50), 100);
  EXPECT_EQ(PageOffset(0, 50), 0) << "pages start at 1";
  EXPECT_EQ(PageOffset(2, 0), 1) << "a page holds at least one";
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  EXPECT_EQ(PageOffset(kMax, 1), kMax - 1);
  EXPECT_EQ(PageOffset(kMax, 1000), kMax);
  EXPECT_EQ(PageOffset(kMax / 1000 + 2, 1000), kMax);
}

TEST(Strings, Iso8601ParsesProcoreForms) {
  EXPECT_EQ(ParseIso8601("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(ParseIso8601("2016-09-23T16:30:00Z"), 1474648200000);
  EXPECT_EQ(ParseIso8601("2016-09-23T16:30:00.250Z"), 1474648200250);
  EXPECT_EQ(ParseIso8601("2016-09-23T18:30:00+02:00"), 1474648200000);
  EXPECT_EQ(ParseIso8601("2016-09-23"), 1474588800000);
  EXPECT_FALSE(ParseIso8601("2016-13-01"));
  EXPECT_FALSE(ParseIso8601("yesterday"));
  EXPECT_EQ(FormatIso8601(1474648200250, true), "2016-09-23T16:30:00.250Z");
  EXPECT_EQ(ParseIso8601(FormatIso8601(1474648200000)), 1474648200000);
}

TEST(Hash, Sha256OfEmptyStringIsTheKnownValue) {
  EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  Sha256 h;
  h.Update("ab");
  h.Update("c");
  EXPECT_EQ(h.FinishHex(), Sha256Hex("abc"));
}

TEST(Hash, ConstantTimeEqualsComparesContent) {
  EXPECT_TRUE(ConstantTimeEquals("Bearer abc", "Bearer abc"));
  EXPECT_FALSE(ConstantTimeEquals("Bearer abc", "Bearer abd"));
  EXPECT_FALSE(ConstantTimeEquals("Bearer abc", "Bearer ab"));
  EXPECT_NE(RandomToken(32), RandomToken(32));
}

TEST(Hash, DigestEqualsComparesWholeDigests) {
  const std::string a = Sha256Hex("secret one");
  EXPECT_TRUE(DigestEquals(a, Sha256Hex("secret one")));
  EXPECT_FALSE(DigestEquals(a, Sha256Hex("secret two")));
  std::string last_differs = a;
  last_differs.back() = last_differs.back() == '0' ? '1' : '0';
  EXPECT_FALSE(DigestEquals(a, last_differs));
  EXPECT_FALSE(DigestEquals(a, a.substr(0, 63)));  // a prefix is not a match
  EXPECT_FALSE(DigestEquals("", ""));              // nothing stored matches nothing
}

TEST(Hash, SecretFingerprintTellsSecretsApart) {
  EXPECT_EQ(SecretFingerprint("client secret"), SecretFingerprint(std::string("client ") + "secret"));
  EXPECT_NE(SecretFingerprint("client secret"), SecretFingerprint("client secreT"));
  EXPECT_NE(SecretFingerprint("client secret"), SecretFingerprint("client secret "));
  EXPECT_NE(SecretFingerprint(""), SecretFingerprint(std::string_view("\0", 1)));
}

TEST(Strings, ParseInt64RejectsPartialNumbers) {
  EXPECT_EQ(ParseInt64("5000000000"), 5000000000);
  EXPECT_FALSE(ParseInt64("12x"));
  EXPECT_FALSE(ParseInt64(""));
}

// Case folding is ASCII's: letters A-Z only, every other byte (digits, punctuation, UTF-8) as it is.
TEST(Strings, CaseFoldingIsAscii) {
  EXPECT_EQ(ToLower("Content-Type: Application/JSON; Charset=UTF-8"),
            "content-type: application/json; charset=utf-8");
  EXPECT_EQ(ToLower("\xC3\x89t\xC3\xA9 [@`{]"),
            "\xC3\x89t\xC3\xA9 [@`{]");  // É and é, and the bytes around A-Z
  EXPECT_TRUE(IEquals("X-Request-ID", "x-request-id"));
  EXPECT_FALSE(IEquals("x-request-id", "x-request-ie"));
  EXPECT_FALSE(IEquals("@", "`"));  // 0x40 and 0x60 differ only in the case bit, but are not letters
  EXPECT_FALSE(IEquals("abc", "abcd"));
  EXPECT_TRUE(IStartsWith("Text/HTML; charset=utf-8", "text/html"));
  EXPECT_FALSE(IStartsWith("text/htm", "text/html"));
  EXPECT_TRUE(IStartsWith("", ""));
  EXPECT_TRUE(IContains("{\"title\":\"Concrete pour\"}", "CONCRETE"));
  EXPECT_FALSE(IContains("Concrete", "concretes"));
  EXPECT_FALSE(IContains("@", "`"));
  EXPECT_TRUE(IContains("anything", ""));
}

}  // namespace
}  // namespace kt
