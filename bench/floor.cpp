// ktrack_floor: what the sync's two unavoidable steps cost with no KTrack code around them, for the CPU
// target of issue 6 (BENCHMARKS.md, "Session 14"). Both synthesise their data and touch nothing outside the
// given path.
//
//   ktrack_floor store --db PATH --records N --per-transaction K --body-bytes B --page-size P --journal MODE
//       N records shaped like procore_records (same columns and primary key, a body of B bytes), upserted K
//       per transaction with one prepared statement through plain SQLite, synchronous=NORMAL, journal MODE
//       (wal, truncate, persist). SQLite's own automatic checkpoints run in the same thread, so they are
//       counted. With --body-file FILE, the bodies go to FILE instead (appended, one write() a transaction,
//       before its COMMIT; never synced, as SQLite's WAL at synchronous=NORMAL syncs only at checkpoints) and
//       each row holds a 16-byte reference to its body: a log-structured store's cost for the same records.
//   ktrack_floor parse --records N
//       N records of about 1 KB in pages of 1,000 parsed with simdjson's on-demand API: each record's raw
//       JSON, its id and its updated_at, as a sync page needs them.
//
// Each prints the process's CPU seconds (user + system) for the work and the same per million records.
#include <fcntl.h>
#include <sqlite3.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <map>
#include <string>

#include <simdjson.h>

namespace {

double CpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
  };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

std::map<std::string, std::string> Flags(int argc, char** argv) {
  std::map<std::string, std::string> flags;
  for (int i = 2; i + 1 < argc; i += 2) flags[argv[i]] = argv[i + 1];
  return flags;
}

int64_t Number(const std::map<std::string, std::string>& flags, const std::string& name, int64_t fallback) {
  auto it = flags.find(name);
  if (it == flags.end()) return fallback;
  try {
    return std::stoll(it->second);
  } catch (const std::exception&) {
    return -1;
  }
}

int Report(const char* what, int64_t records, double cpu) {
  std::printf("%s: %lld records, cpu %.2f s = %.2f s per million records\n", what,
              static_cast<long long>(records), cpu, cpu * 1e6 / static_cast<double>(records));
  return 0;
}

bool Exec(sqlite3* db, const std::string& sql) {
  char* error = nullptr;
  if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error) == SQLITE_OK) return true;
  std::fprintf(stderr, "ktrack_floor: %s: %s\n", sql.c_str(), error ? error : "failed");
  sqlite3_free(error);
  return false;
}

int Store(const std::map<std::string, std::string>& flags) {
  const auto path = flags.count("--db") ? flags.at("--db") : std::string();
  const int64_t records = Number(flags, "--records", 596'552);
  const int64_t per_tx = Number(flags, "--per-transaction", 1'000);
  const int64_t body_bytes = Number(flags, "--body-bytes", 1'090);
  const int64_t page_size = Number(flags, "--page-size", 4'096);
  const std::string journal = flags.count("--journal") ? flags.at("--journal") : "wal";
  const std::string body_file = flags.count("--body-file") ? flags.at("--body-file") : std::string();
  if (path.empty() || records <= 0 || per_tx <= 0 || body_bytes < 8 || page_size <= 0) {
    std::fprintf(stderr,
                 "ktrack_floor: store needs --db PATH (a new file) and positive --records, "
                 "--per-transaction, --page-size, and --body-bytes of at least 8\n");
    return 2;
  }
  sqlite3* db = nullptr;
  if (sqlite3_open(path.c_str(), &db) != SQLITE_OK) {
    std::fprintf(stderr, "ktrack_floor: cannot open %s\n", path.c_str());
    return 1;
  }
  if (!Exec(db, "PRAGMA page_size=" + std::to_string(page_size)) ||
      !Exec(db, "PRAGMA journal_mode=" + journal) || !Exec(db, "PRAGMA synchronous=NORMAL") ||
      !Exec(
          db,
          "CREATE TABLE procore_records (client_id BIGINT NOT NULL, stream TEXT NOT NULL, project_id BIGINT "
          "NOT "
          "NULL, procore_id BIGINT NOT NULL, company_id BIGINT NOT NULL, updated_at TEXT NOT NULL, "
          "updated_at_ms BIGINT NOT NULL, deleted BIGINT NOT NULL DEFAULT 0, deleted_seen_ms BIGINT NOT NULL "
          "DEFAULT 0, seen_ms BIGINT NOT NULL DEFAULT 0, body TEXT NOT NULL, PRIMARY KEY (client_id, stream, "
          "project_id, procore_id))")) {
    sqlite3_close(db);
    return 1;
  }
  sqlite3_stmt* upsert = nullptr;
  const char* sql =
      "INSERT INTO procore_records (client_id, stream, project_id, procore_id, company_id, updated_at, "
      "updated_at_ms, seen_ms, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET "
      "body = excluded.body, updated_at = excluded.updated_at, updated_at_ms = excluded.updated_at_ms, "
      "seen_ms = excluded.seen_ms WHERE excluded.updated_at_ms >= procore_records.updated_at_ms";
  if (sqlite3_prepare_v2(db, sql, -1, &upsert, nullptr) != SQLITE_OK) {
    std::fprintf(stderr, "ktrack_floor: %s\n", sqlite3_errmsg(db));
    sqlite3_close(db);
    return 1;
  }
  std::string body(static_cast<size_t>(body_bytes), 'x');
  int log_fd = -1;
  if (!body_file.empty()) {
    log_fd = ::open(body_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
    if (log_fd < 0) {
      std::fprintf(stderr, "ktrack_floor: cannot open --body-file %s: %s\n", body_file.c_str(),
                   std::strerror(errno));
      sqlite3_close(db);
      return 1;
    }
  }
  std::string pending;  // the transaction's bodies, when they go to --body-file
  int64_t logged = 0;   // bytes written to --body-file
  char ref[17] = {0};
  const double start = CpuSeconds();
  for (int64_t i = 0; i < records; ++i) {
    if (i % per_tx == 0 && !Exec(db, "BEGIN")) return 1;
    const int64_t id = 1'000'000 + i;
    std::snprintf(body.data(), 8, "%07lld", static_cast<long long>(i % 10'000'000));  // bodies differ
    body[7] = 'x';                                                                    // (over its NUL)
    sqlite3_bind_int64(upsert, 1, 1);
    sqlite3_bind_text(upsert, 2, "rfis", -1, SQLITE_STATIC);
    sqlite3_bind_int64(upsert, 3, (i / 83) % 600);  // 83 records a project stream, as on `large`
    sqlite3_bind_int64(upsert, 4, id);
    sqlite3_bind_int64(upsert, 5, 7);
    sqlite3_bind_text(upsert, 6, "2026-11-29T10:00:00Z", -1, SQLITE_STATIC);
    sqlite3_bind_int64(upsert, 7, 1'764'410'400'000);
    sqlite3_bind_int64(upsert, 8, 1'764'410'400'000);
    if (log_fd < 0) {
      sqlite3_bind_text(upsert, 9, body.data(), static_cast<int>(body.size()), SQLITE_STATIC);
    } else {
      std::snprintf(ref, sizeof ref, "%011llx%05llx",
                    static_cast<unsigned long long>(logged + pending.size()),
                    static_cast<unsigned long long>(body.size()));
      pending += body;
      sqlite3_bind_text(upsert, 9, ref, 16, SQLITE_STATIC);
    }
    if (sqlite3_step(upsert) != SQLITE_DONE) {
      std::fprintf(stderr, "ktrack_floor: %s\n", sqlite3_errmsg(db));
      return 1;
    }
    sqlite3_reset(upsert);
    if (i % per_tx == per_tx - 1 || i == records - 1) {
      if (log_fd >= 0) {
        if (::write(log_fd, pending.data(), pending.size()) != static_cast<ssize_t>(pending.size())) {
          std::fprintf(stderr, "ktrack_floor: cannot write --body-file %s: %s\n", body_file.c_str(),
                       std::strerror(errno));
          return 1;
        }
        logged += static_cast<int64_t>(pending.size());
        pending.clear();
      }
      if (!Exec(db, "COMMIT")) return 1;
    }
  }
  if (log_fd >= 0) ::close(log_fd);
  sqlite3_finalize(upsert);
  sqlite3_close(db);
  const std::string what = "store (" + journal + ", " + std::to_string(page_size) + "-byte pages, " +
                           std::to_string(per_tx) + " a transaction, " + std::to_string(body_bytes) +
                           (!body_file.empty() ? "-byte bodies in a file of their own)" : "-byte bodies)");
  return Report(what.c_str(), records, CpuSeconds() - start);
}

int Parse(const std::map<std::string, std::string>& flags) {
  const int64_t records = Number(flags, "--records", 596'552);
  if (records <= 0) {
    std::fprintf(stderr, "ktrack_floor: parse needs a positive --records\n");
    return 2;
  }
  // A page of 1,000 RFI-like records of about 1 KB each.
  std::string page = "[";
  for (int i = 0; i < 1'000; ++i) {
    if (i) page += ',';
    page +=
        R"({"id":)" + std::to_string(1'000'000 + i) + R"(,"updated_at":"2026-11-29T10:00:00Z",)" +
        R"("created_at":"2026-01-01T00:00:00Z","number":")" + std::to_string(i) +
        R"(","subject":"Subject of the RFI","status":"open","question":{"body":")" + std::string(600, 'q') +
        R"("},"assignee":{"id":42,"name":"Jane Doe","login":"jane@example.com"},"due_date":"2026-12-01",)" +
        R"("cost_code":{"id":7,"name":"Concrete","full_code":"03-300"},"location":{"id":3,"name":"Level 2"},)" +
        R"("project_id":5,"deleted_at":null,"private":false})";
  }
  page += ']';
  const simdjson::padded_string padded(page);
  simdjson::ondemand::parser parser;
  int64_t parsed = 0;
  uint64_t check = 0;
  const double start = CpuSeconds();
  while (parsed < records) {
    auto doc = parser.iterate(padded);
    for (auto value : doc.get_array()) {
      if (parsed == records) break;
      auto object = value.get_object().value();
      check += object.raw_json().value().size();
      object.reset();
      check += static_cast<uint64_t>(object["id"].get_int64().value());
      check += object["updated_at"].get_string().value().size();
      ++parsed;
    }
  }
  const double cpu = CpuSeconds() - start;
  if (check == 0) return 1;  // the work is used, so it is not optimised away
  return Report("parse (simdjson on-demand: raw JSON, id, updated_at)", parsed, cpu);
}

}  // namespace

int main(int argc, char** argv) {
  const std::string command = argc > 1 ? argv[1] : "";
  try {
    if (command == "store") return Store(Flags(argc, argv));
    if (command == "parse") return Parse(Flags(argc, argv));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ktrack_floor: %s\n", e.what());
    return 1;
  }
  std::fprintf(stderr, "usage: ktrack_floor store|parse --flag value ...\n");
  return 2;
}
