// Users, passwords and sign-in.
#include "accounts/users.h"

#include <algorithm>

#include "util/hash.h"
#include "util/strings.h"

namespace kt::accounts {

namespace {

constexpr size_t kMaxPasswordLength = 1024;

tl::unexpected<Error> InvalidSignIn() {
  return Fail(ErrorKind::kUnauthenticated, "invalid_sign_in", "The email or password is not right.",
              "Check both and try again.");
}

tl::unexpected<Error> UserNotFound() {
  return Fail(ErrorKind::kNotFound, "user_not_found", "There is no such user.");
}

User UserFromRow(const store::Row& row) {
  return User{row.Int("id"), row.Text("email"), row.Int("created_at")};
}

}  // namespace

std::optional<std::string> NormalizeEmail(std::string_view email) {
  std::string normal = ToLower(Trim(email));
  if (normal.size() < 3 || normal.size() > 254) return std::nullopt;
  size_t at = normal.find('@');
  if (at == std::string::npos || at == 0 || at + 1 == normal.size() ||
      normal.find('@', at + 1) != std::string::npos)
    return std::nullopt;
  bool printable = std::all_of(normal.begin(), normal.end(),
                               [](char c) { return static_cast<unsigned char>(c) > 0x20 && c != 0x7f; });
  if (!printable) return std::nullopt;
  return normal;
}

Users::Users(store::Store& store, Clock& clock, UsersOptions options)
    : store_(store), clock_(clock), options_(options), throttle_(store, clock, options.throttle) {}

Status Users::CheckPassword(std::string_view password) const {
  if (password.size() < options_.min_password_length) {
    return Fail(ErrorKind::kInvalidInput, "password_too_short",
                "A password needs at least " + std::to_string(options_.min_password_length) + " characters.",
                "Choose a longer password.");
  }
  if (password.size() > kMaxPasswordLength) {
    return Fail(ErrorKind::kInvalidInput, "password_too_long", "A password may have at most 1024 characters.",
                "Choose a shorter password.");
  }
  return {};
}

const std::string& Users::DummyHash() {
  std::call_once(dummy_once_, [this] {
    auto hash = crypto::HashPassword(RandomToken(16), options_.password);
    dummy_hash_ = hash ? *hash : std::string();
  });
  return dummy_hash_;
}

Result<User> Users::Create(std::string_view email, std::string_view password) {
  auto normal = NormalizeEmail(email);
  if (!normal) {
    return Fail(ErrorKind::kInvalidInput, "invalid_email", "That is not an email address.",
                "Enter an address like name@example.com.");
  }
  if (auto ok = CheckPassword(password); !ok) return tl::unexpected(ok.error());
  auto hash = crypto::HashPassword(password, options_.password);
  if (!hash) return tl::unexpected(hash.error());
  User user{0, *normal, clock_.NowUnixMs()};
  auto rows = store_.Query(
      "INSERT INTO users (email, password_hash, created_at) VALUES ($1, $2, $3) ON CONFLICT (email) DO "
      "NOTHING "
      "RETURNING id",
      {user.email, *hash, user.created_at});
  if (!rows) return tl::unexpected(rows.error());
  if (rows->empty()) {
    return Fail(ErrorKind::kConflict, "email_taken", "A user with this email already exists.",
                "Use another email, or add the existing user to the client.");
  }
  user.id = rows->rows.front().Int("id");
  return user;
}

Result<std::optional<User>> Users::FindByEmail(std::string_view email) {
  auto normal = NormalizeEmail(email);
  if (!normal) return std::optional<User>();
  auto rows = store_.Query("SELECT id, email, created_at FROM users WHERE email = $1", {*normal});
  if (!rows) return tl::unexpected(rows.error());
  if (rows->empty()) return std::optional<User>();
  return std::optional<User>(UserFromRow(rows->rows.front()));
}

Result<User> Users::Get(int64_t user_id) {
  auto rows = store_.Query("SELECT id, email, created_at FROM users WHERE id = $1", {user_id});
  if (!rows) return tl::unexpected(rows.error());
  if (rows->empty()) return UserNotFound();
  return UserFromRow(rows->rows.front());
}

Status Users::SetPassword(int64_t user_id, std::string_view password) {
  if (auto ok = CheckPassword(password); !ok) return ok;
  auto hash = crypto::HashPassword(password, options_.password);
  if (!hash) return tl::unexpected(hash.error());
  auto n = store_.Exec("UPDATE users SET password_hash = $1 WHERE id = $2", {*hash, user_id});
  if (!n) return tl::unexpected(n.error());
  if (*n == 0) return UserNotFound();
  return {};
}

Result<User> Users::Authenticate(std::string_view email, std::string_view password,
                                 std::string_view remote_address) {
  // The throttle is keyed by what was typed (normalised when possible), so junk input is throttled too.
  auto normal = NormalizeEmail(email);
  std::string email_key = normal ? *normal : std::string(email);
  if (auto open = throttle_.Check(email_key, remote_address); !open) return tl::unexpected(open.error());

  std::optional<User> user;
  std::string stored_hash;
  if (normal && password.size() <= kMaxPasswordLength) {
    auto rows =
        store_.Query("SELECT id, email, created_at, password_hash FROM users WHERE email = $1", {*normal});
    if (!rows) return tl::unexpected(rows.error());
    if (!rows->empty()) {
      user = UserFromRow(rows->rows.front());
      stored_hash = rows->rows.front().Text("password_hash");
    }
  }
  bool verified = false;
  if (user) {
    verified = crypto::VerifyPassword(stored_hash, password);
  } else {
    // Spend the same time as for a known email, so response times do not tell which emails have accounts.
    crypto::VerifyPassword(DummyHash(), password.substr(0, kMaxPasswordLength));
  }
  if (!verified) {
    if (auto recorded = throttle_.RecordFailure(email_key, remote_address); !recorded) {
      return tl::unexpected(recorded.error());
    }
    return InvalidSignIn();
  }

  if (auto cleared = throttle_.RecordSuccess(email_key); !cleared) return tl::unexpected(cleared.error());
  if (crypto::PasswordNeedsRehash(stored_hash, options_.password)) {
    // Best effort: the sign-in succeeded whatever happens to the upgrade; the next one tries again.
    if (auto rehashed = crypto::HashPassword(password, options_.password)) {
      (void)store_.Exec("UPDATE users SET password_hash = $1 WHERE id = $2 AND password_hash = $3",
                        {*rehashed, user->id, stored_hash});
    }
  }
  return *user;
}

}  // namespace kt::accounts
