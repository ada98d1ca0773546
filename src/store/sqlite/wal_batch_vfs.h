// A SQLite VFS that writes each commit's new WAL frames with one system call.
//
// SQLite appends a frame to the WAL as two writes (its 24-byte header, then the page), so a transaction that
// changes 25 pages makes 50 `pwrite`s. On the paravirtualised machines KTrack runs on, a system call costs
// several microseconds, and these writes were a fifth of a sync's CPU. This VFS wraps the default one and,
// for WAL files only, keeps the frames a transaction appends in memory until the commit frame's page is
// written, then writes them in one `pwrite`.
//
// Durability and visibility are SQLite's own: the frames are in the file before sqlite3WalFrames returns
// from writing the commit frame, so before SQLite updates the WAL index that makes them visible to readers,
// and before COMMIT returns. A process killed earlier loses only frames of a transaction that had not
// committed, which recovery ignores anyway. Every other operation on a WAL file (a read, a sync, a
// truncation, its size, a file control, closing it) first writes what is held. Writes that are not frames
// appended at the end (the WAL header, SQLite rewriting a frame or its checksum in place) go straight to the
// file, except when they fall inside what is held, which they then overwrite in memory.
//
// A checkpoint copies pages from the WAL into the database one `pwrite` each, in ascending page order.
// Between SQLITE_FCNTL_CKPT_START and SQLITE_FCNTL_CKPT_DONE (which SQLite sends before it syncs the database
// and records the copy in the shared memory), runs of adjacent pages are held and written together, and the
// WAL is read in large pieces rather than a frame at a time. Journal files, and database writes outside a
// checkpoint, pass through untouched.
#pragma once

#include <cstdint>

namespace kt::store {

// Registers the VFS (once; not as the default) and returns its name for sqlite3_open_v2.
const char* WalBatchVfsName();

// What the VFS has written to WAL files since the process started (for tests and benchmarks).
struct WalBatchStats {
  int64_t frames = 0;                // frames appended through the batch
  int64_t batched_writes = 0;        // system calls that wrote them
  int64_t direct_writes = 0;         // writes to WAL files that were not batched
  int64_t checkpoint_pages = 0;      // pages checkpoints copied into databases
  int64_t checkpoint_writes = 0;     // system calls that wrote them
  int64_t checkpoint_wal_reads = 0;  // system calls that read the frames they copied
};
WalBatchStats GetWalBatchStats();

}  // namespace kt::store
