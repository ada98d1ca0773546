// Link, rate-limit, Retry-After and HTTP-date parsing: tolerant of whatever arrives, never throwing.
#include "procore/headers.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdio>

#include "util/strings.h"

namespace kt::procore {
namespace {

bool IsOws(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

void SkipOws(std::string_view s, size_t& pos) {
  while (pos < s.size() && IsOws(s[pos])) ++pos;
}

// Moves past the rest of a malformed link-value: to just after the next comma outside <...> and quotes.
void SkipToNextLinkValue(std::string_view s, size_t& pos) {
  bool in_quotes = false;
  bool in_angle = false;
  while (pos < s.size()) {
    char c = s[pos];
    if (in_quotes) {
      if (c == '\\' && pos + 1 < s.size()) {
        pos += 2;
        continue;
      }
      if (c == '"') in_quotes = false;
    } else if (in_angle) {
      if (c == '>') in_angle = false;
    } else if (c == '"') {
      in_quotes = true;
    } else if (c == '<') {
      in_angle = true;
    } else if (c == ',') {
      ++pos;
      return;
    }
    ++pos;
  }
}

bool IsTokenChar(char c) {
  return !IsOws(c) && c != '=' && c != ';' && c != ',' && c != '"' && c != '<' && c != '>';
}

std::string ParseQuoted(std::string_view s, size_t& pos) {
  // s[pos] is the opening quote; an unterminated string runs to the end.
  std::string out;
  ++pos;
  while (pos < s.size()) {
    char c = s[pos++];
    if (c == '\\' && pos < s.size()) {
      out.push_back(s[pos++]);
    } else if (c == '"') {
      return out;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

}  // namespace

std::vector<Link> ParseLinkHeader(std::string_view s) {
  std::vector<Link> links;
  size_t pos = 0;
  while (pos < s.size()) {
    SkipOws(s, pos);
    if (pos >= s.size()) break;
    if (s[pos] == ',') {
      ++pos;
      continue;
    }
    if (s[pos] != '<') {
      SkipToNextLinkValue(s, pos);
      continue;
    }
    size_t close = s.find('>', pos + 1);
    if (close == std::string_view::npos) break;  // an unterminated target: nothing usable follows
    Link link;
    link.url = std::string(Trim(s.substr(pos + 1, close - pos - 1)));
    pos = close + 1;
    bool rel_seen = false;
    bool malformed = false;
    while (true) {
      SkipOws(s, pos);
      if (pos >= s.size()) break;
      if (s[pos] == ',') {
        ++pos;
        break;
      }
      if (s[pos] != ';') {
        malformed = true;
        SkipToNextLinkValue(s, pos);
        break;
      }
      ++pos;
      SkipOws(s, pos);
      size_t name_start = pos;
      while (pos < s.size() && IsTokenChar(s[pos])) ++pos;
      std::string name = ToLower(s.substr(name_start, pos - name_start));
      SkipOws(s, pos);
      std::string value;
      if (pos < s.size() && s[pos] == '=') {
        ++pos;
        SkipOws(s, pos);
        if (pos < s.size() && s[pos] == '"') {
          value = ParseQuoted(s, pos);
        } else {
          size_t value_start = pos;
          while (pos < s.size() && IsTokenChar(s[pos])) ++pos;
          value = std::string(s.substr(value_start, pos - value_start));
        }
      }
      if (name.empty()) continue;
      if (name == "rel") {
        // RFC 8288: a rel parameter must not repeat; the first one wins. Its value may list several
        // relations.
        if (rel_seen) continue;
        rel_seen = true;
        for (const auto& part : Split(value, ' ')) {
          std::string rel = ToLower(Trim(part));
          if (!rel.empty()) link.rels.push_back(std::move(rel));
        }
      } else {
        link.params.emplace_back(std::move(name), std::move(value));
      }
    }
    if (!malformed || !link.rels.empty()) links.push_back(std::move(link));
  }
  return links;
}

std::optional<std::string> FindLink(const std::vector<Link>& links, std::string_view rel) {
  for (const auto& link : links) {
    for (const auto& r : link.rels) {
      if (IEquals(r, rel)) return link.url;
    }
  }
  return std::nullopt;
}

std::string JoinedHeader(const http::Headers& headers, std::string_view name) {
  std::string out;
  for (const auto& [key, value] : headers.items()) {
    if (!IEquals(key, name)) continue;
    if (!out.empty()) out += ", ";
    out += value;
  }
  return out;
}

std::optional<int64_t> ParseHeaderInt(std::string_view value) {
  value = Trim(value);
  if (value.empty()) return std::nullopt;
  int64_t out = 0;
  size_t i = 0;
  for (; i < value.size() && value[i] != '.'; ++i) {
    char c = value[i];
    if (c < '0' || c > '9') return std::nullopt;
    if (out > (INT64_MAX - (c - '0')) / 10) return std::nullopt;
    out = out * 10 + (c - '0');
  }
  if (i == 0) return std::nullopt;  // ".5" has no integer part
  if (i < value.size()) {
    // A fractional part: digits only, then dropped.
    for (size_t j = i + 1; j < value.size(); ++j) {
      if (value[j] < '0' || value[j] > '9') return std::nullopt;
    }
  }
  return out;
}

RateLimitHeaders ParseRateLimitHeaders(std::string_view limit, std::string_view remaining,
                                       std::string_view reset) {
  RateLimitHeaders out;
  out.limit = ParseHeaderInt(limit);
  out.remaining = ParseHeaderInt(remaining);
  out.reset = ParseHeaderInt(reset);
  return out;
}

RateLimitHeaders ParseRateLimitHeaders(const http::Headers& headers) {
  auto get = [&](std::string_view name) { return headers.Get(name).value_or(std::string()); };
  return ParseRateLimitHeaders(get("X-Rate-Limit-Limit"), get("X-Rate-Limit-Remaining"),
                               get("X-Rate-Limit-Reset"));
}

namespace {

constexpr std::array<std::string_view, 12> kMonths = {"jan", "feb", "mar", "apr", "may", "jun",
                                                      "jul", "aug", "sep", "oct", "nov", "dec"};

int MonthIndex(std::string_view name) {
  std::string lower = ToLower(name);
  for (size_t i = 0; i < kMonths.size(); ++i) {
    if (lower == kMonths[i]) return static_cast<int>(i) + 1;
  }
  return 0;
}

// Days since 1970-01-01 for a proleptic Gregorian date (H. Hinnant's algorithm).
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

std::optional<int> SmallInt(std::string_view s) {
  if (s.empty() || s.size() > 4) return std::nullopt;
  int v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  return v;
}

std::optional<SysTime> MakeTime(int year, int month, int day, std::string_view hms) {
  auto parts = Split(hms, ':');
  if (parts.size() != 3) return std::nullopt;
  auto h = SmallInt(parts[0]), mi = SmallInt(parts[1]), se = SmallInt(parts[2]);
  if (!h || !mi || !se || *h > 23 || *mi > 59 || *se > 60) return std::nullopt;
  // SysTime counts nanoseconds in 64 bits (up to 2262): later years are not dates KTrack can hold.
  if (month < 1 || month > 12 || day < 1 || day > 31 || year < 1970 || year > 2200) return std::nullopt;
  int64_t days = DaysFromCivil(year, static_cast<unsigned>(month), static_cast<unsigned>(day));
  int64_t secs = days * 86400 + (*h * 3600 + *mi * 60 + *se);  // the time of day fits an int
  return SysTime(std::chrono::seconds(secs));
}

std::vector<std::string_view> Words(std::string_view s) {
  std::vector<std::string_view> out;
  size_t pos = 0;
  while (pos < s.size()) {
    while (pos < s.size() && IsOws(s[pos])) ++pos;
    size_t start = pos;
    while (pos < s.size() && !IsOws(s[pos])) ++pos;
    if (pos > start) out.push_back(s.substr(start, pos - start));
  }
  return out;
}

}  // namespace

std::optional<SysTime> ParseHttpDate(std::string_view value) {
  value = Trim(value);
  size_t comma = value.find(',');
  if (comma != std::string_view::npos) {
    auto words = Words(value.substr(comma + 1));
    if (words.size() == 5 && IEquals(words[4], "GMT")) {
      // IMF-fixdate: "06 Nov 1994 08:49:37 GMT"
      auto day = SmallInt(words[0]);
      int month = MonthIndex(words[1]);
      auto year = SmallInt(words[2]);
      if (day && month && year && words[2].size() == 4) return MakeTime(*year, month, *day, words[3]);
      return std::nullopt;
    }
    if (words.size() == 3 && IEquals(words[2], "GMT")) {
      // RFC 850: "06-Nov-94 08:49:37 GMT"
      auto dmy = Split(words[0], '-');
      if (dmy.size() != 3) return std::nullopt;
      auto day = SmallInt(dmy[0]);
      int month = MonthIndex(dmy[1]);
      auto yy = SmallInt(dmy[2]);
      if (!day || !month || !yy) return std::nullopt;
      int year = *yy;
      if (dmy[2].size() == 2) year += year < 70 ? 2000 : 1900;
      return MakeTime(year, month, *day, words[1]);
    }
    return std::nullopt;
  }
  // asctime: "Sun Nov  6 08:49:37 1994"
  auto words = Words(value);
  if (words.size() != 5) return std::nullopt;
  int month = MonthIndex(words[1]);
  auto day = SmallInt(words[2]);
  auto year = SmallInt(words[4]);
  if (!month || !day || !year) return std::nullopt;
  return MakeTime(*year, month, *day, words[3]);
}

std::string FormatHttpDate(SysTime t) {
  static constexpr std::array<std::string_view, 7> kDays = {"Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"};
  static constexpr std::array<std::string_view, 12> kMonthNames = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  int64_t secs = std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
  int64_t days = secs >= 0 ? secs / 86400 : (secs - 86399) / 86400;
  int64_t rem = secs - days * 86400;
  // civil_from_days
  int64_t z = days + 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t y = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  y += m <= 2;
  char buf[64];
  int64_t weekday = ((days % 7) + 7) % 7;
  std::snprintf(buf, sizeof buf, "%s, %02u %s %04lld %02lld:%02lld:%02lld GMT", kDays[weekday].data(), d,
                kMonthNames[m - 1].data(), static_cast<long long>(y), static_cast<long long>(rem / 3600),
                static_cast<long long>((rem / 60) % 60), static_cast<long long>(rem % 60));
  return buf;
}

std::optional<Millis> ParseRetryAfter(std::string_view value, SysTime now, Millis cap) {
  value = Trim(value);
  if (value.empty()) return std::nullopt;
  if (auto secs = ParseHeaderInt(value)) {
    if (*secs > cap.count() / 1000) return cap;
    return std::min(Millis(*secs * 1000), cap);
  }
  auto when = ParseHttpDate(value);
  if (!when) return std::nullopt;
  if (*when <= now) return Millis(0);
  auto delay = std::chrono::duration_cast<Millis>(*when - now);
  return std::min(delay, cap);
}

}  // namespace kt::procore
