// The one error type for failures we expect (bad input, not found, Procore 4xx/5xx, rate limited).
#pragma once

#include <string>
#include <utility>

#include <tl/expected.hpp>

namespace kt {

// What kind of failure this is; decides the HTTP status (see HttpStatusFor) and whether a retry may help.
enum class ErrorKind {
  kInvalidInput,     // 400/422: the caller sent something wrong
  kUnauthenticated,  // 401
  kForbidden,        // 403
  kNotFound,         // 404
  kConflict,         // 409: the state does not allow this now
  kPayloadTooLarge,  // 413
  kUnprocessable,    // 422: well-formed but refused by a rule (e.g. Procore verification failed)
  kRateLimited,      // 429
  kUnavailable,      // 503: a dependency (database, Procore) is down; retry later
  kInternal,         // 500: a bug or an impossible state
};

struct Error {
  ErrorKind kind = ErrorKind::kInternal;
  std::string code;     // stable snake_case code for the API, e.g. "invalid_credentials"
  std::string message;  // what went wrong, fit for the user
  std::string fix;      // what the user can do about it (may be empty)
  std::string detail;   // internal detail for logs; never shown to users

  Error WithDetail(std::string d) const& {
    Error e = *this;
    e.detail = std::move(d);
    return e;
  }
};

template <typename T>
using Result = tl::expected<T, Error>;
using Status = tl::expected<void, Error>;

inline tl::unexpected<Error> Fail(ErrorKind kind, std::string code, std::string message, std::string fix = {},
                                  std::string detail = {}) {
  return tl::unexpected<Error>(
      Error{kind, std::move(code), std::move(message), std::move(fix), std::move(detail)});
}
inline tl::unexpected<Error> Fail(Error e) {
  return tl::unexpected<Error>(std::move(e));
}

// The one mapping from error kinds to HTTP statuses.
int HttpStatusFor(ErrorKind kind);
// A default snake_case code for a kind, used when an error has none.
const char* DefaultCodeFor(ErrorKind kind);

}  // namespace kt
