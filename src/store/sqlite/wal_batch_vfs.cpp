// The WAL-batching VFS (see the header). Frame layout from SQLite's file format: a 32-byte WAL header at
// offset 0, then frames of a 24-byte header and one page; bytes 4-7 of a frame header are the database size
// after the commit for a commit frame and zero for every other frame.
#include "store/sqlite/wal_batch_vfs.h"

#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstring>
#include <mutex>
#include <new>
#include <string>

namespace kt::store {
namespace {

constexpr int kWalHeaderBytes = 32;
constexpr int kFrameHeaderBytes = 24;
// What a transaction may hold before it is written anyway (a big transaction writes in steps of this).
constexpr size_t kMaxHeldBytes = size_t{8} << 20;
// The largest write the unix VFS makes in one call: it masks a write's length to 17 bits.
constexpr size_t kMaxWriteBytes = 0x1f000;
// What a checkpoint reads from the WAL at once.
constexpr int64_t kReadAheadBytes = 256 << 10;

std::atomic<int64_t> g_frames{0};
std::atomic<int64_t> g_batched_writes{0};
std::atomic<int64_t> g_direct_writes{0};
std::atomic<int64_t> g_checkpoint_pages{0};
std::atomic<int64_t> g_checkpoint_writes{0};
std::atomic<int64_t> g_checkpoint_wal_reads{0};

uint32_t Get4(const void* p) {
  const auto* b = static_cast<const unsigned char*>(p);
  return (uint32_t{b[0]} << 24) | (uint32_t{b[1]} << 16) | (uint32_t{b[2]} << 8) | uint32_t{b[3]};
}

// Our file object: SQLite allocates szOsFile bytes for it, this struct first, the wrapped file after it.
struct BatchFile {
  sqlite3_file base;  // first: SQLite sees this
  sqlite3_file* real = nullptr;
  bool wal = false;
  bool main_db = false;
  bool in_checkpoint = false;  // main database: between SQLITE_FCNTL_CKPT_START and _DONE
  // The main database's WAL file on the same connection, and the other way round.
  BatchFile* peer = nullptr;
  // WAL file, while its connection checkpoints: bytes read ahead (`ahead` is the file's bytes from
  // `ahead_at`), and the file's size when the checkpoint started (-1: no checkpoint).
  std::string ahead;
  int64_t ahead_at = 0;
  int64_t ahead_limit = -1;
  // Frames appended and not yet written: `held` is the file's bytes from `held_at`.
  std::string held;
  int64_t held_at = 0;
  // Where the next appended frame's header goes (-1: not known, then a frame header written at or past the
  // end of the file is taken as appended).
  int64_t next_frame_at = -1;
  int64_t file_end = 0;       // the file's size counting what is held
  bool expect_page = false;   // the last write was a held frame header; its page comes next
  bool commit_frame = false;  // ...and that header was a commit frame's

  int64_t HeldEnd() const { return held_at + static_cast<int64_t>(held.size()); }

  int WriteHeld() {
    if (held.empty()) return SQLITE_OK;  // then no frame header waits for its page either
    int rc = SQLITE_OK;
    for (size_t at = 0; at < held.size() && rc == SQLITE_OK; at += kMaxWriteBytes) {
      const size_t n = std::min(kMaxWriteBytes, held.size() - at);
      rc = real->pMethods->xWrite(real, held.data() + at, static_cast<int>(n),
                                  held_at + static_cast<int64_t>(at));
      (wal ? g_batched_writes : g_checkpoint_writes).fetch_add(1, std::memory_order_relaxed);
    }
    held.clear();
    expect_page = false;
    commit_frame = false;
    if (rc != SQLITE_OK) next_frame_at = -1;
    return rc;
  }

  int Direct(const void* data, int amount, sqlite3_int64 offset) {
    g_direct_writes.fetch_add(1, std::memory_order_relaxed);
    const int rc = real->pMethods->xWrite(real, data, amount, offset);
    if (rc == SQLITE_OK) file_end = std::max<int64_t>(file_end, offset + amount);
    return rc;
  }

  // A checkpoint copies pages into the database in ascending page order: runs of adjacent pages are held and
  // written together, all before SQLITE_FCNTL_CKPT_DONE (so before the checkpoint syncs the file and records
  // in the shared memory that the pages are copied).
  int CheckpointWrite(const void* data, int amount, sqlite3_int64 offset) {
    g_checkpoint_pages.fetch_add(1, std::memory_order_relaxed);
    if (!held.empty() && offset != HeldEnd()) {
      if (const int rc = WriteHeld(); rc != SQLITE_OK) return rc;
    }
    if (held.empty()) held_at = offset;
    held.append(static_cast<const char*>(data), static_cast<size_t>(amount));
    return held.size() >= kMaxHeldBytes ? WriteHeld() : SQLITE_OK;
  }

  // A checkpoint reads the frames it copies one at a time, in the order of their pages; a run of pages
  // written by one transaction lies together in the WAL. So while it checkpoints, the WAL is read in
  // kReadAheadBytes pieces and the frames are served from them. The frames a checkpoint copies were
  // committed before it started, so they are within the file's size at that time, and the writer neither
  // rewrites nor restarts the WAL until the checkpoint has finished with them; the piece is dropped at
  // SQLITE_FCNTL_CKPT_DONE.
  void StartReadAhead() {
    sqlite3_int64 size = 0;
    ahead.clear();
    ahead_limit = real->pMethods->xFileSize(real, &size) == SQLITE_OK ? size : -1;
  }
  void StopReadAhead() {
    ahead_limit = -1;
    ahead.clear();  // the capacity stays for the next checkpoint: one kReadAheadBytes piece per WAL file
  }
  // Main database: a checkpoint's copy starts or ends (its held pages are written by then: see Settle).
  void BeginCheckpoint() {
    in_checkpoint = true;
    if (peer) peer->StartReadAhead();
  }
  void EndCheckpoint() {
    in_checkpoint = false;
    if (peer) peer->StopReadAhead();
  }
  int WalRead(void* data, int amount, sqlite3_int64 offset) {
    if (ahead_limit >= 0 && offset >= 0 && offset + amount <= ahead_limit) {
      const int64_t ahead_end = ahead_at + static_cast<int64_t>(ahead.size());
      if (offset < ahead_at || offset + amount > ahead_end) {
        const int64_t n = std::min<int64_t>(kReadAheadBytes, ahead_limit - offset);
        ahead.resize(static_cast<size_t>(n));
        g_checkpoint_wal_reads.fetch_add(1, std::memory_order_relaxed);
        if (real->pMethods->xRead(real, ahead.data(), static_cast<int>(n), offset) != SQLITE_OK) {
          ahead.clear();
          return real->pMethods->xRead(real, data, amount, offset);
        }
        ahead_at = offset;
      }
      std::memcpy(data, ahead.data() + (offset - ahead_at), static_cast<size_t>(amount));
      return SQLITE_OK;
    }
    return real->pMethods->xRead(real, data, amount, offset);
  }

  int WalWrite(const void* data, int amount, sqlite3_int64 offset) {
    if (expect_page) {
      expect_page = false;
      if (offset == HeldEnd()) {  // the page of the frame whose header is held
        held.append(static_cast<const char*>(data), static_cast<size_t>(amount));
        next_frame_at = offset + amount;
        file_end = std::max(file_end, next_frame_at);
        g_frames.fetch_add(1, std::memory_order_relaxed);
        if (commit_frame || held.size() >= kMaxHeldBytes) return WriteHeld();
        return SQLITE_OK;
      }
      // Not the layout expected: write what is held and stop guessing where frames go.
      next_frame_at = -1;
      if (const int rc = WriteHeld(); rc != SQLITE_OK) return rc;
    }
    const bool appended_header = amount == kFrameHeaderBytes &&
                                 (offset == next_frame_at || (next_frame_at < 0 && offset >= file_end)) &&
                                 (held.empty() || offset == HeldEnd());
    if (appended_header) {
      if (held.empty()) held_at = offset;
      held.append(static_cast<const char*>(data), static_cast<size_t>(amount));
      expect_page = true;
      commit_frame = Get4(static_cast<const char*>(data) + 4) != 0;
      return SQLITE_OK;
    }
    if (!held.empty()) {
      if (offset >= held_at &&
          offset + amount <= HeldEnd()) {  // SQLite rewrites a frame it has not committed
        std::memcpy(held.data() + (offset - held_at), data, static_cast<size_t>(amount));
        return SQLITE_OK;
      }
      if (const int rc = WriteHeld(); rc != SQLITE_OK) return rc;
    }
    const int rc = Direct(data, amount, offset);
    // A WAL header at offset 0 starts the log again: frames follow it.
    if (rc == SQLITE_OK && offset == 0 && amount == kWalHeaderBytes) next_frame_at = kWalHeaderBytes;
    return rc;
  }
};

BatchFile* Self(sqlite3_file* f) {
  return reinterpret_cast<BatchFile*>(f);
}
sqlite3_file* Real(sqlite3_file* f) {
  return Self(f)->real;
}
// Writes what the file holds before an operation that must see the file as SQLite wrote it.
int Settle(sqlite3_file* f) {
  return Self(f)->WriteHeld();
}

int Close(sqlite3_file* f) {
  BatchFile* self = Self(f);
  int rc = Settle(f);
  if (self->peer) self->peer->peer = nullptr;
  const int closed = self->real->pMethods ? self->real->pMethods->xClose(self->real) : SQLITE_OK;
  if (rc == SQLITE_OK) rc = closed;
  self->~BatchFile();
  return rc;
}
int Read(sqlite3_file* f, void* data, int amount, sqlite3_int64 offset) {
  if (const int rc = Settle(f); rc != SQLITE_OK) return rc;
  if (Self(f)->wal) return Self(f)->WalRead(data, amount, offset);
  return Real(f)->pMethods->xRead(Real(f), data, amount, offset);
}
int Write(sqlite3_file* f, const void* data, int amount, sqlite3_int64 offset) {
  BatchFile* self = Self(f);
  if (self->wal) return self->WalWrite(data, amount, offset);
  if (self->in_checkpoint) return self->CheckpointWrite(data, amount, offset);
  return self->real->pMethods->xWrite(self->real, data, amount, offset);
}
int Truncate(sqlite3_file* f, sqlite3_int64 size) {
  if (const int rc = Settle(f); rc != SQLITE_OK) return rc;
  BatchFile* self = Self(f);
  const int rc = self->real->pMethods->xTruncate(self->real, size);
  self->file_end = size;
  // journal_size_limit: after the first commit of a restarted log SQLite cuts the file back to the limit,
  // beyond the frames it has written, and the next frames still follow them.
  if (rc != SQLITE_OK || self->next_frame_at > size) self->next_frame_at = -1;
  return rc;
}
int Sync(sqlite3_file* f, int flags) {
  if (const int rc = Settle(f); rc != SQLITE_OK) return rc;
  return Real(f)->pMethods->xSync(Real(f), flags);
}
int FileSize(sqlite3_file* f, sqlite3_int64* size) {
  if (const int rc = Settle(f); rc != SQLITE_OK) return rc;
  return Real(f)->pMethods->xFileSize(Real(f), size);
}
int Lock(sqlite3_file* f, int level) {
  if (const int rc = Settle(f); rc != SQLITE_OK) return rc;
  return Real(f)->pMethods->xLock(Real(f), level);
}
int Unlock(sqlite3_file* f, int level) {
  if (const int rc = Settle(f); rc != SQLITE_OK) return rc;
  return Real(f)->pMethods->xUnlock(Real(f), level);
}
int CheckReservedLock(sqlite3_file* f, int* out) {
  return Real(f)->pMethods->xCheckReservedLock(Real(f), out);
}
int FileControl(sqlite3_file* f, int op, void* arg) {
  BatchFile* self = Self(f);
  if (const int rc = Settle(f); rc != SQLITE_OK) return rc;
  if (self->main_db && op == SQLITE_FCNTL_CKPT_START) self->BeginCheckpoint();
  if (op == SQLITE_FCNTL_CKPT_DONE) self->EndCheckpoint();
  return Real(f)->pMethods->xFileControl(Real(f), op, arg);
}
int SectorSize(sqlite3_file* f) {
  return Real(f)->pMethods->xSectorSize(Real(f));
}
int DeviceCharacteristics(sqlite3_file* f) {
  return Real(f)->pMethods->xDeviceCharacteristics(Real(f));
}
int ShmMap(sqlite3_file* f, int region, int size, int extend, void volatile** out) {
  if (const int rc = Settle(f); rc != SQLITE_OK) return rc;
  return Real(f)->pMethods->xShmMap(Real(f), region, size, extend, out);
}
int ShmLock(sqlite3_file* f, int offset, int n, int flags) {
  if (const int rc = Settle(f); rc != SQLITE_OK) return rc;
  BatchFile* self = Self(f);
  // A checkpoint that stopped without SQLITE_FCNTL_CKPT_DONE (an error path) is over once it unlocks.
  if (self->in_checkpoint && (flags & SQLITE_SHM_UNLOCK)) self->EndCheckpoint();
  return Real(f)->pMethods->xShmLock(Real(f), offset, n, flags);
}
void ShmBarrier(sqlite3_file* f) {
  (void)Settle(f);  // cannot report a failure; the next operation on the file will
  Real(f)->pMethods->xShmBarrier(Real(f));
}
int ShmUnmap(sqlite3_file* f, int delete_flag) {
  if (const int rc = Settle(f); rc != SQLITE_OK) return rc;
  return Real(f)->pMethods->xShmUnmap(Real(f), delete_flag);
}
int Fetch(sqlite3_file* f, sqlite3_int64 offset, int amount, void** out) {
  if (const int rc = Settle(f); rc != SQLITE_OK) return rc;
  return Real(f)->pMethods->xFetch(Real(f), offset, amount, out);
}
int Unfetch(sqlite3_file* f, sqlite3_int64 offset, void* p) {
  return Real(f)->pMethods->xUnfetch(Real(f), offset, p);
}

// Version 3 methods for a wrapped file with shared memory and memory mapping; a version 1 file gets the same
// table marked version 1 (SQLite reads no method past a table's version).
sqlite3_io_methods MethodsOfVersion(int version) {
  sqlite3_io_methods m = {3,
                          Close,
                          Read,
                          Write,
                          Truncate,
                          Sync,
                          FileSize,
                          Lock,
                          Unlock,
                          CheckReservedLock,
                          FileControl,
                          SectorSize,
                          DeviceCharacteristics,
                          ShmMap,
                          ShmLock,
                          ShmBarrier,
                          ShmUnmap,
                          Fetch,
                          Unfetch};
  m.iVersion = version;
  return m;
}
const sqlite3_io_methods kMethodsV1 = MethodsOfVersion(1);
const sqlite3_io_methods kMethodsV3 = MethodsOfVersion(3);

constexpr size_t kRealOffset = (sizeof(BatchFile) + alignof(std::max_align_t) - 1) /
                               alignof(std::max_align_t) * alignof(std::max_align_t);

sqlite3_vfs* Under(sqlite3_vfs* vfs) {
  return static_cast<sqlite3_vfs*>(vfs->pAppData);
}

int Open(sqlite3_vfs* vfs, const char* name, sqlite3_file* file, int flags, int* out_flags) {
  auto* self = new (file) BatchFile();
  self->real = reinterpret_cast<sqlite3_file*>(reinterpret_cast<char*>(file) + kRealOffset);
  self->real->pMethods = nullptr;
  self->wal = (flags & SQLITE_OPEN_WAL) != 0;
  self->main_db = (flags & SQLITE_OPEN_MAIN_DB) != 0;
  const int rc = Under(vfs)->xOpen(Under(vfs), name, self->real, flags, out_flags);
  if (rc != SQLITE_OK || !self->real->pMethods) {
    if (self->real->pMethods) self->real->pMethods->xClose(self->real);
    self->~BatchFile();
    file->pMethods = nullptr;
    return rc != SQLITE_OK ? rc : SQLITE_CANTOPEN;
  }
  if (self->wal && name) {
    // SQLite opens a connection's WAL after its database; link the two so a checkpoint can read ahead.
    if (sqlite3_file* db = sqlite3_database_file_object(name);
        db && db->pMethods && (db->pMethods == &kMethodsV3 || db->pMethods == &kMethodsV1)) {
      self->peer = Self(db);
      Self(db)->peer = self;
    }
  }
  if (self->wal) {
    sqlite3_int64 size = 0;
    if (self->real->pMethods->xFileSize(self->real, &size) == SQLITE_OK) self->file_end = size;
  }
  file->pMethods = self->real->pMethods->iVersion >= 3 ? &kMethodsV3 : &kMethodsV1;
  return SQLITE_OK;
}

int Delete(sqlite3_vfs* vfs, const char* name, int sync_dir) {
  return Under(vfs)->xDelete(Under(vfs), name, sync_dir);
}
int Access(sqlite3_vfs* vfs, const char* name, int flags, int* out) {
  return Under(vfs)->xAccess(Under(vfs), name, flags, out);
}
int FullPathname(sqlite3_vfs* vfs, const char* name, int size, char* out) {
  return Under(vfs)->xFullPathname(Under(vfs), name, size, out);
}
void* DlOpen(sqlite3_vfs* vfs, const char* name) {
  return Under(vfs)->xDlOpen(Under(vfs), name);
}
void DlError(sqlite3_vfs* vfs, int size, char* out) {
  Under(vfs)->xDlError(Under(vfs), size, out);
}
void (*DlSym(sqlite3_vfs* vfs, void* handle, const char* symbol))(void) {
  return Under(vfs)->xDlSym(Under(vfs), handle, symbol);
}
void DlClose(sqlite3_vfs* vfs, void* handle) {
  Under(vfs)->xDlClose(Under(vfs), handle);
}
int Randomness(sqlite3_vfs* vfs, int size, char* out) {
  return Under(vfs)->xRandomness(Under(vfs), size, out);
}
int Sleep(sqlite3_vfs* vfs, int micros) {
  return Under(vfs)->xSleep(Under(vfs), micros);
}
int CurrentTime(sqlite3_vfs* vfs, double* out) {
  return Under(vfs)->xCurrentTime(Under(vfs), out);
}
int GetLastError(sqlite3_vfs* vfs, int size, char* out) {
  return Under(vfs)->xGetLastError ? Under(vfs)->xGetLastError(Under(vfs), size, out) : 0;
}
int CurrentTimeInt64(sqlite3_vfs* vfs, sqlite3_int64* out) {
  return Under(vfs)->xCurrentTimeInt64(Under(vfs), out);
}

}  // namespace

const char* WalBatchVfsName() {
  static constexpr char kName[] = "ktrack-walbatch";
  static sqlite3_vfs vfs;
  static std::once_flag registered;
  std::call_once(registered, [] {
    sqlite3_vfs* under = sqlite3_vfs_find(nullptr);
    // Up to xCurrentTimeInt64 (version 2); the system-call overrides stay the default VFS's.
    vfs.iVersion = std::min(under->iVersion, 2);
    vfs.szOsFile = static_cast<int>(kRealOffset) + under->szOsFile;
    vfs.mxPathname = under->mxPathname;
    vfs.zName = kName;
    vfs.pAppData = under;
    vfs.xOpen = Open;
    vfs.xDelete = Delete;
    vfs.xAccess = Access;
    vfs.xFullPathname = FullPathname;
    vfs.xDlOpen = DlOpen;
    vfs.xDlError = DlError;
    vfs.xDlSym = DlSym;
    vfs.xDlClose = DlClose;
    vfs.xRandomness = Randomness;
    vfs.xSleep = Sleep;
    vfs.xCurrentTime = CurrentTime;
    vfs.xGetLastError = GetLastError;
    vfs.xCurrentTimeInt64 = CurrentTimeInt64;
    sqlite3_vfs_register(&vfs, /*makeDflt=*/0);
  });
  return kName;
}

WalBatchStats GetWalBatchStats() {
  return {g_frames.load(std::memory_order_relaxed),
          g_batched_writes.load(std::memory_order_relaxed),
          g_direct_writes.load(std::memory_order_relaxed),
          g_checkpoint_pages.load(std::memory_order_relaxed),
          g_checkpoint_writes.load(std::memory_order_relaxed),
          g_checkpoint_wal_reads.load(std::memory_order_relaxed)};
}

}  // namespace kt::store
