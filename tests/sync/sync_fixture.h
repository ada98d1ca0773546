// A sync engine on SQLite in a temporary folder, a manual clock, the job queue run inline, and the fake
// Procore.
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>

#include "fake_procore.h"
#include "process.h"
#include "queue/queue.h"
#include "store/migrations.h"
#include "store/store.h"
#include "sync/engine.h"

namespace kt::sync::testing {

class SyncFixture : public ::testing::Test {
 protected:
  static constexpr int64_t kClient = 42;
  static constexpr int64_t kCompany = 1;
  static constexpr int64_t kBase = 1'600'000'000'000;  // record times, well before the manual clock's now

  // The database the test runs on; the engine tests run on both backends.
  virtual std::string StoreUrl() { return "sqlite:" + dir_.path() + "/sync.db"; }

  void SetUp() override {
    auto opened = store::OpenStore(StoreUrl());
    ASSERT_TRUE(opened) << opened.error().message;
    store_ = std::move(*opened);
    auto migrated = store::Migrate(*store_);
    ASSERT_TRUE(migrated) << migrated.error().message << " " << migrated.error().detail;
    flaky_ = std::make_unique<FlakyStore>(*store_);
    queue_ = std::make_unique<queue::Queue>(*flaky_, clock_, random_);
    RebuildEngine();
  }

  // A new worker and engine on the same database, with options_ as they are now (a test that changes them
  // calls this; SetUp made them with the defaults).
  void RebuildEngine() {
    worker_ = std::make_unique<queue::Worker>(*queue_);
    engine_ = std::make_unique<SyncEngine>(*flaky_, *queue_, source_, clock_, options_);
    engine_->RegisterHandlers(*worker_);
  }

  // Runs jobs that are due now, without moving the clock.
  int RunDue(int max_jobs = 5000) {
    int ran = 0;
    for (; ran < max_jobs; ++ran) {
      auto r = worker_->RunOnce();
      EXPECT_TRUE(r) << (r ? "" : r.error().message);
      if (!r || !*r) break;
    }
    return ran;
  }

  // Runs jobs until none is left, moving the clock on a second at a time while only later jobs wait.
  void Drain(int max_steps = 20000) {
    for (int i = 0; i < max_steps; ++i) {
      RunDue();
      auto counts = queue_->CountByStatus();
      ASSERT_TRUE(counts);
      if (counts->pending == 0 && counts->running == 0) return;
      clock_.Advance(Millis(1000));
    }
    FAIL() << "jobs still pending after " << max_steps << " steps";
  }

  std::map<std::pair<std::string, int64_t>, StreamStatus> Streams() {
    auto list = engine_->ListStreams(kClient);
    EXPECT_TRUE(list) << (list ? "" : list.error().message);
    std::map<std::pair<std::string, int64_t>, StreamStatus> out;
    if (list) {
      for (auto& s : *list) out[{s.stream, s.project_id.value_or(0)}] = s;
    }
    return out;
  }

  static StreamStatus At(const std::map<std::pair<std::string, int64_t>, StreamStatus>& streams,
                         const std::string& stream, int64_t project) {
    auto it = streams.find({stream, project});
    return it == streams.end() ? StreamStatus{} : it->second;
  }

  // Expects the stream's count and checksum to equal the fake's truth for the list.
  void ExpectTruth(const std::string& stream, int64_t project, const std::string& list_key) {
    auto streams = Streams();
    auto it = streams.find({stream, project});
    ASSERT_NE(it, streams.end()) << stream << " " << project;
    auto [count, checksum] = fake_.Truth(list_key);
    EXPECT_EQ(it->second.count, count) << stream << " " << project;
    EXPECT_EQ(it->second.checksum, checksum) << stream << " " << project;
  }

  kt::testing::TempDir dir_;
  ManualClock clock_;
  SeededRandom random_{11};
  FakeProcore fake_{clock_};
  FakeClientSource source_{fake_, clock_};
  SyncOptions options_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<FlakyStore> flaky_;
  std::unique_ptr<queue::Queue> queue_;
  std::unique_ptr<queue::Worker> worker_;
  std::unique_ptr<SyncEngine> engine_;
};

}  // namespace kt::sync::testing
