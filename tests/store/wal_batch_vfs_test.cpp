// The WAL-batching VFS: a commit's frames reach the file in a few writes, are in it before the commit
// returns (another connection, on SQLite's own VFS, sees them), survive the process being killed right after
// the commit, and a transaction killed before its commit leaves nothing behind, even with pages it spilled.
#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "process.h"
#include "store/sqlite/wal_batch_vfs.h"
#include "store/store.h"

namespace kt::store {
namespace {

// Reads one integer with SQLite's default VFS, as another process would.
int64_t CountWithPlainSqlite(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
  int64_t value = -1;
  if (sqlite3_step(st) == SQLITE_ROW) value = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  sqlite3_close(db);
  return value;
}

std::string IntegrityWithPlainSqlite(const std::string& path) {
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, nullptr), SQLITE_OK);
  std::string verdict;
  if (sqlite3_step(st) == SQLITE_ROW) verdict = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
  sqlite3_finalize(st);
  sqlite3_close(db);
  return verdict;
}

Status InsertRows(Tx& tx, int from, int count) {
  for (int i = from; i < from + count; ++i) {
    auto r =
        tx.Exec("INSERT INTO t (id, body) VALUES ($1, $2)", {int64_t{i}, std::string(600, 'a' + i % 26)});
    if (!r) return tl::unexpected(r.error());
  }
  return {};
}

class store_WalBatchVfs : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = dir_.path() + "/batch.db";
    auto store = OpenStore("sqlite:" + path_);
    ASSERT_TRUE(store) << store.error().detail;
    store_ = std::move(*store);
    ASSERT_TRUE(store_->Exec("CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT NOT NULL)"));
  }

  testing::TempDir dir_;
  std::string path_;
  std::unique_ptr<Store> store_;
};

TEST_F(store_WalBatchVfs, ACommitsFramesGoInAFewWritesAndAreVisibleWhenItReturns) {
  const WalBatchStats before = GetWalBatchStats();
  ASSERT_TRUE(store_->Transact([](Tx& tx) { return InsertRows(tx, 0, 300); }));
  const WalBatchStats after = GetWalBatchStats();

  const int64_t frames = after.frames - before.frames;
  const int64_t writes = after.batched_writes - before.batched_writes;
  EXPECT_GE(frames, 40);  // 300 rows of 600 bytes: about 45 pages
  // Unbatched, SQLite writes each frame in two calls; batched, in pieces of up to 124 KiB.
  EXPECT_LE(writes, frames * (24 + 4096) / 0x1f000 + 1);
  EXPECT_LE(after.direct_writes - before.direct_writes, 1);  // at most the WAL's header
  EXPECT_EQ(CountWithPlainSqlite(path_, "SELECT COUNT(*) FROM t"), 300);
}

TEST_F(store_WalBatchVfs, ATransactionReadsBackThePagesItSpilledBeforeItsCommit) {
  ASSERT_TRUE(store_->Transact([](Tx& tx) -> Status {
    // A cache of 8 pages makes SQLite write uncommitted pages to the WAL and read them again.
    if (auto r = tx.Query("PRAGMA cache_size = 8"); !r) return tl::unexpected(r.error());
    if (auto s = InsertRows(tx, 0, 2000); !s) return s;
    auto sum = tx.Query("SELECT COUNT(*), SUM(LENGTH(body)) FROM t");
    if (!sum) return tl::unexpected(sum.error());
    EXPECT_EQ(sum->rows[0].Int(0), 2000);
    EXPECT_EQ(sum->rows[0].Int(1), 2000 * 600);
    return {};
  }));
  EXPECT_EQ(CountWithPlainSqlite(path_, "SELECT COUNT(*) FROM t"), 2000);
  EXPECT_EQ(IntegrityWithPlainSqlite(path_), "ok");
}

TEST_F(store_WalBatchVfs, ACheckpointCopiesPagesInRunsAndTheDatabaseFileHoldsThem) {
  const WalBatchStats before = GetWalBatchStats();
  for (int batch = 0; batch < 10; ++batch) {
    ASSERT_TRUE(store_->Transact([&](Tx& tx) { return InsertRows(tx, batch * 200, 200); }));
  }
  store_.reset();  // the last connection to close checkpoints the whole WAL and deletes it
  const WalBatchStats after = GetWalBatchStats();
  const int64_t pages = after.checkpoint_pages - before.checkpoint_pages;
  EXPECT_GE(pages, 250);  // 2,000 rows of 600 bytes
  // The rows' pages are adjacent in the database and in the WAL: a few writes and reads copy them.
  EXPECT_LT(after.checkpoint_writes - before.checkpoint_writes, pages / 4);
  EXPECT_LT(after.checkpoint_wal_reads - before.checkpoint_wal_reads, pages / 4);
  EXPECT_FALSE(std::filesystem::exists(path_ + "-wal"));
  EXPECT_EQ(CountWithPlainSqlite(path_, "SELECT COUNT(*) FROM t"), 2000);
  EXPECT_EQ(CountWithPlainSqlite(path_, "SELECT SUM(LENGTH(body)) FROM t"), 2000 * 600);
  EXPECT_EQ(IntegrityWithPlainSqlite(path_), "ok");
}

TEST_F(store_WalBatchVfs, AKilledProcessKeepsWhatCommittedAndNothingOfWhatDidNot) {
  store_.reset();
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto store = OpenStore("sqlite:" + path_);
    if (!store) _exit(2);
    if (!(*store)->Transact([](Tx& tx) { return InsertRows(tx, 0, 100); })) _exit(3);
    (void)(*store)->Transact([](Tx& tx) -> Status {
      (void)tx.Query("PRAGMA cache_size = 8");
      (void)InsertRows(tx, 100, 3000);  // spills pages into the WAL, and holds the last of them
      kill(getpid(), SIGKILL);
      return {};
    });
    _exit(4);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status)) << "the child exited with " << WEXITSTATUS(status);
  EXPECT_EQ(WTERMSIG(status), SIGKILL);

  EXPECT_EQ(CountWithPlainSqlite(path_, "SELECT COUNT(*) FROM t"), 100);
  EXPECT_EQ(IntegrityWithPlainSqlite(path_), "ok");
  // And the store carries on writing after the recovery.
  auto store = OpenStore("sqlite:" + path_);
  ASSERT_TRUE(store) << store.error().detail;
  ASSERT_TRUE((*store)->Transact([](Tx& tx) { return InsertRows(tx, 100, 50); }));
  EXPECT_EQ(CountWithPlainSqlite(path_, "SELECT COUNT(*) FROM t"), 150);
}

// SQLite cuts a restarted WAL back to journal_size_limit after its first commit, beyond the frames it wrote.
// The frames that follow still go at the end of the log and must still be batched (each went in two writes of
// its own until the next restart, about 60,000 system calls over the `large` sync).
TEST_F(store_WalBatchVfs, FramesAfterTheLogIsCutBackToItsSizeLimitAreStillBatched) {
  store_.reset();
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open_v2(path_.c_str(), &db, SQLITE_OPEN_READWRITE, WalBatchVfsName()), SQLITE_OK);
  auto exec = [&](const std::string& sql) {
    char* error = nullptr;
    EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error), SQLITE_OK) << (error ? error : sql);
    sqlite3_free(error);
  };
  auto insert = [&](int from, int count) {
    exec("BEGIN");
    for (int i = from; i < from + count; ++i) {
      exec("INSERT INTO t (id, body) VALUES (" + std::to_string(i) + ", printf('%.600c', 'x'))");
    }
    exec("COMMIT");
  };
  exec("PRAGMA journal_mode=WAL");
  exec("PRAGMA wal_autocheckpoint=0");
  exec("PRAGMA journal_size_limit=262144");
  insert(0, 3000);  // about 1.8 MB of WAL, beyond the limit
  exec("PRAGMA wal_checkpoint(PASSIVE)");
  insert(3000, 5);  // restarts the log at its start; its commit cuts the file back to 256 KiB
  ASSERT_EQ(std::filesystem::file_size(path_ + "-wal"), 262144u);

  const WalBatchStats before = GetWalBatchStats();
  for (int i = 0; i < 10; ++i) insert(3005 + i * 20, 20);  // frames below the cut-back end of the file
  const WalBatchStats after = GetWalBatchStats();
  EXPECT_GE(after.frames - before.frames, 20);
  EXPECT_EQ(after.direct_writes - before.direct_writes, 0);
  sqlite3_close(db);
  EXPECT_EQ(CountWithPlainSqlite(path_, "SELECT COUNT(*) FROM t"), 3205);
  EXPECT_EQ(IntegrityWithPlainSqlite(path_), "ok");
}

}  // namespace
}  // namespace kt::store
