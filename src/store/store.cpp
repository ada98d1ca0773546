// Row accessors with lossless conversions, and OpenStore, which picks the backend from the URL.
#include "store/store.h"

#include <charconv>
#include <cmath>
#include <limits>
#include <stdexcept>

#include "store/postgres/postgres_store.h"
#include "store/sqlite/sqlite_store.h"
#include "util/strings.h"

namespace kt::store {
namespace {

[[noreturn]] void BadConversion(const Value& v, size_t i, const char* to) {
  static constexpr const char* kTypeNames[] = {"NULL", "integer", "double", "text", "blob"};
  throw std::logic_error(std::string("store: column ") + std::to_string(i) + " holds " +
                         kTypeNames[v.index()] + ", which does not convert to " + to + " without loss");
}

std::string FormatDouble(double d) {
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, d);
  return std::string(buf, end);
}

std::optional<double> ParseDouble(const std::string& s) {
  if (s.empty()) return std::nullopt;
  double d = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), d);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return d;
}

}  // namespace

int64_t Row::Int(size_t i) const {
  const Value& v = values_.at(i);
  if (auto* n = std::get_if<int64_t>(&v)) return *n;
  if (auto* d = std::get_if<double>(&v)) {
    // Exact only when integral and inside the int64 range (2^63 is the first double that is not).
    if (std::isfinite(*d) && std::trunc(*d) == *d && *d >= -9223372036854775808.0 &&
        *d < 9223372036854775808.0)
      return static_cast<int64_t>(*d);
  } else if (auto* s = std::get_if<std::string>(&v)) {
    if (auto n = ParseInt64(*s)) return *n;
  }
  BadConversion(v, i, "an integer");
}

double Row::Double(size_t i) const {
  const Value& v = values_.at(i);
  if (auto* d = std::get_if<double>(&v)) return *d;
  if (auto* n = std::get_if<int64_t>(&v)) return static_cast<double>(*n);
  if (auto* s = std::get_if<std::string>(&v)) {
    if (auto d = ParseDouble(*s)) return *d;
  }
  BadConversion(v, i, "a double");
}

std::string Row::Text(size_t i) const {
  const Value& v = values_.at(i);
  if (auto* s = std::get_if<std::string>(&v)) return *s;
  if (auto* b = std::get_if<Blob>(&v)) return b->bytes;
  if (auto* n = std::get_if<int64_t>(&v)) return std::to_string(*n);
  if (auto* d = std::get_if<double>(&v)) return FormatDouble(*d);
  BadConversion(v, i, "text");
}

std::optional<int64_t> Row::OptInt(std::string_view name) const {
  size_t i = Index(name);
  if (IsNull(i)) return std::nullopt;
  return Int(i);
}

std::optional<std::string> Row::OptText(std::string_view name) const {
  size_t i = Index(name);
  if (IsNull(i)) return std::nullopt;
  return Text(i);
}

size_t Row::Index(std::string_view name) const {
  if (columns_) {
    for (size_t i = 0; i < columns_->size(); ++i) {
      if ((*columns_)[i] == name) return i;
    }
  }
  throw std::out_of_range("store: no column named '" + std::string(name) + "' in the result");
}

Result<std::unique_ptr<Store>> OpenStore(const std::string& url, const StoreOptions& options) {
  if (StartsWith(url, "sqlite:")) return OpenSqliteStore(url.substr(7), options);
  if (StartsWith(url, "postgresql://") || StartsWith(url, "postgres://"))
    return OpenPostgresStore(url, options);
  return Fail(ErrorKind::kInvalidInput, "bad_database_url", "The database URL is not one KTrack understands.",
              "Use sqlite:PATH or postgresql://USER@HOST:PORT/DATABASE.", "url scheme not recognised");
}

}  // namespace kt::store
