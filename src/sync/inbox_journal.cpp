#include "sync/inbox_journal.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <optional>
#include <system_error>

#include "util/hash.h"
#include "util/process.h"

namespace kt::sync {
namespace {

constexpr std::string_view kMagic = "KTJ1";
constexpr size_t kHeaderBytes = 4 + 4 + 8 + 8;
constexpr std::string_view kSuffix = ".journal";

// Detects a record cut short or damaged (not tampering): eight bytes a step, then the tail a byte a step.
uint64_t Checksum(int64_t client_id, std::string_view body) {
  uint64_t h = 0x243f6a8885a308d3ull ^ static_cast<uint64_t>(client_id) ^ (body.size() << 32);
  auto mix = [&h](uint64_t word) {
    h = (h ^ word) * 0x9e3779b97f4a7c15ull;
    h ^= h >> 29;
  };
  mix(static_cast<uint64_t>(client_id));
  size_t at = 0;
  for (; at + 8 <= body.size(); at += 8) {
    uint64_t word;
    std::memcpy(&word, body.data() + at, sizeof word);
    mix(word);
  }
  for (; at < body.size(); ++at) mix(static_cast<unsigned char>(body[at]));
  return h;
}

void PutLe(char* out, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out[i] = static_cast<char>((v >> (8 * i)) & 0xff);
}

uint64_t GetLe(std::string_view in, size_t at, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i)
    v |= static_cast<uint64_t>(static_cast<unsigned char>(in[at + i])) << (8 * i);
  return v;
}

tl::unexpected<Error> IoError(std::string_view what, const std::string& path, int error_number) {
  return Fail(ErrorKind::kUnavailable, "inbox_journal_failed",
              "KTrack could not " + std::string(what) + " its webhook journal " + path + ": " +
                  std::strerror(error_number) + ".",
              "Check that the data directory is writable by KTrack's user and that its disk has room.");
}

// Appends the records (a header and a body each) with one writev(); the error number when it failed or wrote
// part (a regular file writes all unless the disk is full or a limit is reached). A second call for the rest
// could land after another thread's records, so a part is a failure: the reading skips the record it cut.
int AppendRecords(int fd, std::span<const iovec> parts) {
  size_t total = 0;
  for (const iovec& part : parts) total += part.iov_len;
  ssize_t n;
  do {
    n = ::writev(fd, parts.data(), static_cast<int>(parts.size()));
  } while (n < 0 && errno == EINTR);
  if (n < 0) return errno;
  return static_cast<size_t>(n) == total ? 0 : ENOSPC;
}

}  // namespace

InboxJournal::InboxJournal(std::string dir, int64_t segment_bytes,
                           std::chrono::steady_clock::duration segment_age)
    : dir_(std::move(dir)), segment_bytes_(segment_bytes), segment_age_(segment_age) {}

InboxJournal::~InboxJournal() {
  std::lock_guard lock(mu_);
  for (Segment& segment : segments_) {
    if (segment.unstored == 0) ::unlink(segment.path.c_str());  // while still locked: no recovery reads it
    ::close(segment.fd);
  }
}

Status InboxJournal::StartSegmentLocked() {
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  const std::string base = dir_ + "/" + ProcessTag() + RandomHex(4);
  // Locked under a name recovery ignores, then renamed: another process's recovery never sees it unlocked.
  const std::string creating = base + ".creating", path = base + std::string(kSuffix);
  const int fd = ::open(creating.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) return IoError("create", creating, errno);
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0 || ::rename(creating.c_str(), path.c_str()) != 0) {
    auto error = IoError("lock", creating, errno);
    ::unlink(creating.c_str());
    ::close(fd);
    return error;
  }
  if (!segments_.empty()) {
    segments_.back().current = false;
    RemoveIfDoneLocked(segments_.end() - 1);
  }
  segments_.push_back({.number = next_number_++,
                       .fd = fd,
                       .path = path,
                       .current = true,
                       .started = std::chrono::steady_clock::now()});
  return {};
}

void InboxJournal::RemoveIfDoneLocked(std::vector<Segment>::iterator it) {
  if (it->current || it->unstored > 0) return;
  ::unlink(it->path.c_str());  // under its lock, which the close then releases
  ::close(it->fd);
  segments_.erase(it);
}

Result<uint64_t> InboxJournal::Append(std::span<const Entry> entries) {
  if (entries.empty()) return uint64_t{0};
  std::vector<char> headers(entries.size() * kHeaderBytes);
  int64_t bytes = 0;
  for (size_t i = 0; i < entries.size(); ++i) {
    char* header = headers.data() + i * kHeaderBytes;
    std::memcpy(header, kMagic.data(), kMagic.size());
    PutLe(header + 4, entries[i].body.size(), 4);
    PutLe(header + 8, static_cast<uint64_t>(entries[i].client_id), 8);
    PutLe(header + 16, Checksum(entries[i].client_id, entries[i].body), 8);
    bytes += static_cast<int64_t>(kHeaderBytes + entries[i].body.size());
  }
  const auto count = static_cast<int64_t>(entries.size());
  uint64_t number;
  int fd;
  {
    std::lock_guard lock(mu_);
    if (segments_.empty() || !segments_.back().current || segments_.back().bytes >= segment_bytes_) {
      if (auto s = StartSegmentLocked(); !s) return tl::unexpected(s.error());
    }
    Segment& segment = segments_.back();
    segment.bytes += bytes;
    segment.unstored += count;
    number = segment.number;
    fd = segment.fd;  // stays open until the segment's events are all stored, these included
  }
  int error_number = 0;
  std::vector<iovec> parts;
  parts.reserve(2 * std::min(entries.size(), kEntriesPerWrite));
  for (size_t at = 0; at < entries.size() && error_number == 0; at += kEntriesPerWrite) {
    parts.clear();
    for (size_t i = at; i < std::min(entries.size(), at + kEntriesPerWrite); ++i) {
      parts.push_back({headers.data() + i * kHeaderBytes, kHeaderBytes});
      parts.push_back({const_cast<char*>(entries[i].body.data()), entries[i].body.size()});
    }
    error_number = AppendRecords(fd, parts);
  }
  if (error_number != 0) {
    std::lock_guard lock(mu_);
    // What part of them was written is skipped by the reading (a cut record's checksum fails) or, whole,
    // stored again by a recovery (a duplicate); appends go on in a new segment.
    for (auto it = segments_.begin(); it != segments_.end(); ++it) {
      if (it->number != number) continue;
      it->unstored -= count;
      it->current = false;
      const std::string path = it->path;
      RemoveIfDoneLocked(it);
      return IoError("append to", path, error_number);
    }
    return IoError("append to", dir_, error_number);
  }
  return number;
}

void InboxJournal::Stored(uint64_t number, int64_t events) {
  std::lock_guard lock(mu_);
  for (auto it = segments_.begin(); it != segments_.end(); ++it) {
    if (it->number != number) continue;
    it->unstored -= events;
    // An old current segment whose events are all stored gives way: the next append starts another.
    if (it->current && it->unstored == 0 && std::chrono::steady_clock::now() - it->started >= segment_age_)
      it->current = false;
    RemoveIfDoneLocked(it);
    return;
  }
}

std::vector<std::string> InboxJournal::SegmentPaths() const {
  std::lock_guard lock(mu_);
  std::vector<std::string> paths;
  for (const Segment& segment : segments_) paths.push_back(segment.path);
  return paths;
}

std::vector<InboxJournal::Record> InboxJournal::ParseRecords(std::string_view data) {
  std::vector<Record> records;
  size_t at = 0;
  while (data.size() - at >= kHeaderBytes) {
    if (data.substr(at, kMagic.size()) == kMagic) {
      const size_t length = GetLe(data, at + 4, 4);
      if (data.size() - at - kHeaderBytes >= length) {
        const auto client_id = static_cast<int64_t>(GetLe(data, at + 8, 8));
        const std::string_view body = data.substr(at + kHeaderBytes, length);
        if (GetLe(data, at + 16, 8) == Checksum(client_id, body)) {
          records.push_back({client_id, std::string(body)});
          at += kHeaderBytes + length;
          continue;
        }
      }
    }
    // Cut short or damaged: the next record starts at the next magic, if any.
    const size_t next = data.find(kMagic, at + 1);
    if (next == std::string_view::npos) break;
    at = next;
  }
  return records;
}

Result<int64_t> InboxJournal::RecoverOrphans(const std::string& dir, const StoreRecords& store) {
  std::error_code ec;
  std::filesystem::directory_iterator it(dir, ec);
  if (ec) return int64_t{0};  // no journal was ever written here
  int64_t stored = 0;
  std::optional<Error> first_failure;
  for (const auto& entry : it) {
    const std::string path = entry.path().string();
    if (entry.path().extension() != kSuffix) continue;
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;  // removed meanwhile (its process stored it, or another's recovery did)
    // A live process holds its segments' locks (this one's included: a lock of another descriptor).
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      ::close(fd);
      continue;
    }
    // Removed between the listing and the lock: nothing to do.
    if (!std::filesystem::exists(path, ec)) {
      ::close(fd);
      continue;
    }
    std::string data;
    char buffer[1 << 16];
    ssize_t n;
    while ((n = ::read(fd, buffer, sizeof buffer)) > 0) data.append(buffer, static_cast<size_t>(n));
    if (n < 0) {
      auto error = IoError("read", path, errno);
      ::close(fd);
      return error;
    }
    const std::vector<Record> records = ParseRecords(data);
    if (auto s = records.empty() ? Status{} : store(records); !s) {
      if (!first_failure) first_failure = s.error();  // kept; the other segments are still stored
      ::close(fd);
      continue;
    }
    stored += static_cast<int64_t>(records.size());
    ::unlink(path.c_str());  // under the lock
    ::close(fd);
  }
  if (first_failure) return tl::unexpected(*first_failure);
  return stored;
}

}  // namespace kt::sync
