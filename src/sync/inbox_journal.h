// The inbox's journal: with a SQLite store, the receiver appends each accepted delivery to a file of its
// process before it answers Procore, and the inbox's committer stores it in the database afterwards. One
// write() makes the event durable against a crash of the process (as SQLite's WAL with synchronous=NORMAL
// does), so the answer waits neither for a transaction nor for the committer thread.
//
// A process writes segments, `<dir>/<host>-<pid>-<random>.journal`, each held with an exclusive flock while
// the process lives. A new segment starts once the current one reaches segment_bytes, or once everything in
// it is stored and it is older than segment_age (so a crash replays minutes of deliveries at most, all within
// Procore's redelivery horizon that the inbox keeps its events for); a segment that is not the current one is
// removed as soon as every event appended to it is stored, and all of them at a stop that left nothing
// unstored. A process that starts stores the records of every segment whose lock is free (its process is
// gone) and removes it.
//
// A record: "KTJ1", the body's length (4 bytes, little-endian), the client id (8 bytes), a checksum of the
// client id and the body (8 bytes), then the body. Reading skips what fails its checksum (a record cut short
// by a crash or a full disk: never acknowledged, since the answer follows the write).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "util/error.h"

namespace kt::sync {

class InboxJournal {
 public:
  // Segments are created in `dir` (made if missing) when the first event is appended.
  explicit InboxJournal(std::string dir, int64_t segment_bytes = 16 << 20,
                        std::chrono::steady_clock::duration segment_age = std::chrono::seconds(10));
  // Closes the segments, removing those whose events are all stored (the rest are stored by the next start).
  ~InboxJournal();
  InboxJournal(const InboxJournal&) = delete;
  InboxJournal& operator=(const InboxJournal&) = delete;

  struct Entry {
    int64_t client_id = 0;
    std::string_view body;
  };
  // Appends deliveries to one segment with one writev() (one per kEntriesPerWrite). Returns the segment they
  // went to, for Stored; on a failure none of them counts as appended (what part was written is either
  // skipped by the reading or stored again by a recovery, where it is a duplicate). Thread-safe; appends to
  // one segment run concurrently (O_APPEND).
  Result<uint64_t> Append(std::span<const Entry> entries);
  Result<uint64_t> Append(int64_t client_id, std::string_view body) {
    const Entry one{client_id, body};
    return Append(std::span<const Entry>(&one, 1));
  }
  // Records a writev() takes at most (two buffers each, within the system's IOV_MAX of 1024).
  static constexpr size_t kEntriesPerWrite = 512;
  // `events` appended to segment `segment` are stored in the database. Thread-safe.
  void Stored(uint64_t segment, int64_t events = 1);
  // This process's segment files (for tests).
  std::vector<std::string> SegmentPaths() const;

  struct Record {
    int64_t client_id = 0;
    std::string body;
  };
  // The records of a segment's bytes; what fails its checksum is skipped.
  static std::vector<Record> ParseRecords(std::string_view data);
  // For every segment in `dir` whose process is gone: reads its records, hands them to `store` and removes
  // the file once `store` succeeded. A segment `store` fails on is kept for the next start, the others are
  // still stored, and the first failure is returned. Otherwise how many records were stored. A missing `dir`
  // has none.
  using StoreRecords = std::function<Status(const std::vector<Record>&)>;
  static Result<int64_t> RecoverOrphans(const std::string& dir, const StoreRecords& store);

 private:
  struct Segment {
    uint64_t number = 0;
    int fd = -1;
    std::string path;
    int64_t bytes = 0;     // appended, or being appended
    int64_t unstored = 0;  // events appended (or being appended) not yet stored
    bool current = false;  // appends go here
    std::chrono::steady_clock::time_point started;
  };
  // Starts a segment and makes it the current one. Under mu_.
  Status StartSegmentLocked();
  // Closes and removes the segment at `it` when it is not current and has nothing unstored. Under mu_.
  void RemoveIfDoneLocked(std::vector<Segment>::iterator it);

  const std::string dir_;
  const int64_t segment_bytes_;
  const std::chrono::steady_clock::duration segment_age_;
  mutable std::mutex mu_;
  std::vector<Segment> segments_;  // oldest first; guarded by mu_
  uint64_t next_number_ = 1;       // guarded by mu_
};

}  // namespace kt::sync
