// Loads the master keyring from the environment or the key file, creates the file, and appends keys to it.
#include "crypto/master_key.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "util/hash.h"
#include "util/strings.h"

namespace kt::crypto {

namespace {

// Closes a file descriptor when it goes out of scope.
struct Fd {
  int fd = -1;
  explicit Fd(int f) : fd(f) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

tl::unexpected<Error> FileError(const std::string& what, const std::string& path, int err) {
  return Fail(ErrorKind::kUnavailable, "key_file_unreadable",
              "Could not " + what + " the key file " + path + ": " + std::strerror(err) + ".",
              "Check that the data dir exists and belongs to the user running KTrack.");
}

std::string OctalMode(mode_t mode) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(mode & 07777));
  return buf;
}

Result<std::string> ReadKeyFile(const std::string& path) {
  Fd file(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (file.fd < 0) return FileError("open", path, errno);
  struct stat st {};
  if (::fstat(file.fd, &st) != 0) return FileError("inspect", path, errno);
  if (!S_ISREG(st.st_mode)) {
    return Fail(ErrorKind::kInvalidInput, "key_file_unsafe",
                "The key file " + path + " is not a regular file.",
                "Replace it with the key file from your backup.");
  }
  // Like ssh with its private keys: a key file others can read is refused, not silently used.
  if ((st.st_mode & 077) != 0) {
    return Fail(ErrorKind::kInvalidInput, "key_file_unsafe",
                "The key file " + path + " can be read or written by other users (mode " +
                    OctalMode(st.st_mode) + ").",
                "Run: chmod 600 " + path);
  }
  std::string text;
  // Reserved up front so the buffer never reallocates and leaves copies of the keys in freed memory.
  text.reserve(static_cast<size_t>(st.st_size) + 1);
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(file.fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      sodium_memzero(buf, sizeof buf);
      Wipe(text);
      return FileError("read", path, err);
    }
    if (n == 0) break;
    text.append(buf, static_cast<size_t>(n));
  }
  sodium_memzero(buf, sizeof buf);
  return text;
}

Status WriteAll(int fd, std::string_view data, const std::string& path) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return FileError("write", path, errno);
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  if (::fsync(fd) != 0) return FileError("write", path, errno);
  return {};
}

void SyncDir(const std::string& path) {
  auto dir = std::filesystem::path(path).parent_path();
  Fd fd(::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.fd >= 0) ::fsync(fd.fd);
}

// Writes `text` to a new temporary file (mode 0600) beside `path` and returns the temporary's name.
Result<std::string> WriteTemp(const std::string& path, std::string_view text) {
  std::string temp = path + ".tmp-" + RandomHex(6);
  Fd fd(::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (fd.fd < 0) return FileError("create", temp, errno);
  // The umask can only narrow the mode, but make the intent explicit.
  ::fchmod(fd.fd, 0600);
  if (auto written = WriteAll(fd.fd, text, temp); !written) {
    ::unlink(temp.c_str());
    return tl::unexpected(written.error());
  }
  return temp;
}

Result<LoadedKeyring> LoadFromFile(const std::string& path) {
  auto text = ReadKeyFile(path);
  if (!text) return tl::unexpected(text.error());
  auto keyring = ParseKeyring(*text, "The key file " + path);
  Wipe(*text);
  if (!keyring) return tl::unexpected(keyring.error());
  LoadedKeyring loaded;
  loaded.keyring = std::move(*keyring);
  loaded.source = KeySource::kFile;
  loaded.file_path = path;
  return loaded;
}

// Creates the key file with one fresh key. Linking a complete temporary file into place means a concurrent
// starter either wins or finds the other's whole file, never a half-written one.
Result<LoadedKeyring> CreateKeyFile(const std::string& path) {
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  Keyring keyring;
  if (auto added = keyring.Add("k1", SecretKey::Generate()); !added) return tl::unexpected(added.error());
  std::string text = FormatKeyring(keyring);
  auto temp = WriteTemp(path, text);
  Wipe(text);
  if (!temp) return tl::unexpected(temp.error());
  int linked = ::link(temp->c_str(), path.c_str());
  int link_errno = errno;
  ::unlink(temp->c_str());
  if (linked != 0) {
    if (link_errno == EEXIST) return LoadFromFile(path);
    return FileError("create", path, link_errno);
  }
  SyncDir(path);
  LoadedKeyring loaded;
  loaded.keyring = std::move(keyring);
  loaded.source = KeySource::kFile;
  loaded.file_path = path;
  loaded.created = true;
  return loaded;
}

std::string NextKeyId(const Keyring& keyring) {
  int64_t highest = 0;
  for (const auto& id : keyring.Ids()) {
    if (id.size() > 1 && id[0] == 'k') {
      if (auto n = ParseInt64(std::string_view(id).substr(1)); n && *n > highest) highest = *n;
    }
  }
  for (int64_t n = highest + 1;; ++n) {
    std::string id = "k" + std::to_string(n);
    if (keyring.Find(id) == nullptr) return id;
  }
}

}  // namespace

KeySourceOptions KeySourceFromEnvironment(std::string data_dir) {
  KeySourceOptions options;
  if (const char* value = std::getenv(std::string(kMasterKeyEnv).c_str())) options.env_value = value;
  options.data_dir = std::move(data_dir);
  return options;
}

std::string KeyFilePath(const std::string& data_dir) {
  return (std::filesystem::path(data_dir.empty() ? "." : data_dir) / std::string(kKeyFileName)).string();
}

Result<LoadedKeyring> LoadKeyring(const KeySourceOptions& options) {
  if (options.env_value) {
    // Set but empty is almost always a deployment mistake; falling back to a new key file would hide it.
    if (Trim(*options.env_value).empty()) {
      return Fail(
          ErrorKind::kInvalidInput, "master_key_malformed", "KTRACK_MASTER_KEY is set but empty.",
          "Set it to a key (`head -c 32 /dev/urandom | base64`), or unset it to use the key file in the "
          "data dir.");
    }
    auto keyring = ParseKeyring(*options.env_value, kMasterKeyEnv);
    if (!keyring) return tl::unexpected(keyring.error());
    LoadedKeyring loaded;
    loaded.keyring = std::move(*keyring);
    loaded.source = KeySource::kEnvironment;
    return loaded;
  }
  std::string path = KeyFilePath(options.data_dir);
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno != ENOENT) return FileError("inspect", path, errno);
    if (!options.create_if_missing) {
      return Fail(ErrorKind::kInvalidInput, "master_key_missing",
                  "There is no master key: KTRACK_MASTER_KEY is not set and " + path + " does not exist.",
                  "Restore the key file from your backup, or set KTRACK_MASTER_KEY.");
    }
    return CreateKeyFile(path);
  }
  return LoadFromFile(path);
}

Result<std::string> AddKeyToFile(const std::string& path) {
  // A separate lock file, because the key file itself is replaced by rename and a lock on it would be lost.
  std::string lock_path = path + ".lock";
  Fd lock(::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (lock.fd < 0) return FileError("lock", lock_path, errno);
  if (::flock(lock.fd, LOCK_EX) != 0) return FileError("lock", lock_path, errno);

  auto loaded = LoadFromFile(path);
  if (!loaded) return tl::unexpected(loaded.error());
  std::string id = NextKeyId(loaded->keyring);
  if (auto added = loaded->keyring.Add(id, SecretKey::Generate()); !added)
    return tl::unexpected(added.error());
  std::string text = FormatKeyring(loaded->keyring);
  auto temp = WriteTemp(path, text);
  Wipe(text);
  if (!temp) return tl::unexpected(temp.error());
  if (::rename(temp->c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(temp->c_str());
    return FileError("replace", path, err);
  }
  SyncDir(path);
  return id;
}

}  // namespace kt::crypto
