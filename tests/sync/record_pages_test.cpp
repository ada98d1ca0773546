// Full reads' pages stored a row a page (record_pages) must leave KTrack's records exactly as a row a record
// did: the same state, digest, records list and look-ups, through webhooks, deletions, tombstones, sweeps and
// abandoned reads. The model test runs random histories through both and compares after every step.
#include "sync/record_pages.h"

#include <gtest/gtest.h>

#include <cctype>
#include <map>
#include <memory>
#include <random>

#include "postgres.h"
#include "process.h"
#include "store/migrations.h"
#include "sync/records.h"
#include "util/strings.h"

namespace kt::sync {
namespace {

// Runs on SQLite and on PostgreSQL (when a server can be started here).
class RecordPagesTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    std::string url = "sqlite:" + dir_.path() + "/pages.db";
    if (GetParam() == "postgres") {
      std::string why;
      if (!kt::testing::PostgresServer::Available(&why)) GTEST_SKIP() << why;
      std::string name = "pages_";
      for (char c : std::string(::testing::UnitTest::GetInstance()->current_test_info()->name())) {
        if (std::isalnum(static_cast<unsigned char>(c))) name += static_cast<char>(std::tolower(c));
        if (name.size() >= 48) break;
      }
      url = kt::testing::PostgresServer::Instance().CreateDatabase(name);
    }
    auto opened = store::OpenStore(url);
    ASSERT_TRUE(opened);
    store_ = std::move(*opened);
    ASSERT_TRUE(store::Migrate(*store_));
  }

  // A record as Procore would send it, its JSON naming its version.
  struct Rec {
    int64_t id;
    std::string updated_at;
    std::string deleted_at;
    std::string json;
  };
  static Rec Make(int64_t id, int version, bool deleted = false) {
    Rec r;
    r.id = id;
    r.updated_at = FormatIso8601(kBase + version * 1000);
    if (deleted) r.deleted_at = r.updated_at;
    r.json = "{\"id\":" + std::to_string(id) + ",\"title\":\"RFI " + std::to_string(id) + " v" +
             std::to_string(version) + (id % 3 == 0 ? " Concrete" : "") + "\"}";
    return r;
  }
  static std::vector<IncomingRecord> Incoming(const std::vector<Rec>& recs) {
    std::vector<IncomingRecord> out;
    for (const Rec& r : recs) out.push_back({r.id, r.updated_at, r.deleted_at, r.json});
    return out;
  }

  Status Tx(const std::function<Status(store::Tx&)>& fn) { return store_->Transact(fn); }

  void Page(const RecordScope& scope, bool as_page, int64_t pass_ms, int64_t seq,
            const std::vector<Rec>& recs, int64_t seen) {
    auto in = Incoming(recs);
    ASSERT_TRUE(Tx([&](store::Tx& tx) -> Status {
      auto w = as_page ? WritePage(tx, scope, pass_ms, seq, in, seen) : UpsertRecords(tx, scope, in, seen);
      if (!w) return tl::unexpected(w.error());
      return {};
    }));
  }

  SweptDigest Sweep(const RecordScope& scope, int64_t since) {
    SweptDigest out;
    EXPECT_TRUE(Tx([&](store::Tx& tx) -> Status {
      auto r = SweepAndDigest(tx, scope, since);
      if (!r) return tl::unexpected(r.error());
      out = *r;
      return {};
    }));
    return out;
  }

  std::optional<StoredRecord> Find(const RecordScope& scope, int64_t id) {
    std::optional<StoredRecord> out;
    EXPECT_TRUE(Tx([&](store::Tx& tx) -> Status {
      auto r = FindRecord(tx, scope, id, true);
      if (!r) return tl::unexpected(r.error());
      out = *r;
      return {};
    }));
    return out;
  }

  RecordList List(const RecordScope& scope, bool deleted, const std::string& search, int64_t offset,
                  int64_t limit) {
    RecordListQuery q;
    q.client_id = scope.client_id;
    q.stream = scope.stream;
    q.project_id = scope.project_id;
    q.include_deleted = deleted;
    q.search = search;
    q.offset = offset;
    q.limit = limit;
    auto r = ListStoredRecords(*store_, q);
    EXPECT_TRUE(r) << (r ? "" : r.error().message);
    return r ? *r : RecordList{};
  }

  // Everything KTrack shows of the two scopes agrees.
  void ExpectSame(const RecordScope& pages, const RecordScope& rows, int64_t max_id,
                  const std::string& when) {
    SCOPED_TRACE(when);
    auto a = DigestStream(*store_, pages);
    auto b = DigestStream(*store_, rows);
    ASSERT_TRUE(a && b);
    EXPECT_EQ(a->count, b->count);
    EXPECT_EQ(a->checksum, b->checksum);
    for (int64_t id = 1; id <= max_id; ++id) {
      auto x = Find(pages, id);
      auto y = Find(rows, id);
      ASSERT_EQ(x.has_value(), y.has_value()) << "record " << id;
      if (!x) continue;
      EXPECT_EQ(x->updated_at, y->updated_at) << "record " << id;
      EXPECT_EQ(x->deleted, y->deleted) << "record " << id;
      EXPECT_EQ(x->body, y->body) << "record " << id;
    }
    std::vector<int64_t> ids;
    for (int64_t id = 1; id <= max_id; ++id) ids.push_back(id);
    auto sa = RecordStates(*store_, pages, ids);
    auto sb = RecordStates(*store_, rows, ids);
    ASSERT_TRUE(sa && sb);
    ASSERT_EQ(sa->size(), sb->size());
    for (const auto& [id, st] : *sa) {
      EXPECT_EQ(st.updated_at_ms, sb->at(id).updated_at_ms) << "record " << id;
      EXPECT_EQ(st.deleted, sb->at(id).deleted) << "record " << id;
    }
    for (bool deleted : {false, true}) {
      for (const std::string search : {"", "concrete"}) {
        for (int64_t offset : {0, 7}) {
          RecordList la = List(pages, deleted, search, offset, 10);
          RecordList lb = List(rows, deleted, search, offset, 10);
          EXPECT_EQ(la.total, lb.total);
          ASSERT_EQ(la.records.size(), lb.records.size());
          for (size_t i = 0; i < la.records.size(); ++i) {
            EXPECT_EQ(la.records[i].procore_id, lb.records[i].procore_id);
            EXPECT_EQ(la.records[i].updated_at, lb.records[i].updated_at);
            EXPECT_EQ(la.records[i].deleted, lb.records[i].deleted);
            EXPECT_EQ(la.records[i].body, lb.records[i].body);
          }
        }
      }
    }
  }

  static constexpr int64_t kBase = 1'700'000'000'000;
  kt::testing::TempDir dir_;
  std::unique_ptr<store::Store> store_;
};

TEST_P(RecordPagesTest, APageIsOneRowWithItsRecordsSortedAndEachOnce) {
  const RecordScope scope{1, 9, "rfis", 5};
  std::vector<Rec> recs = {Make(30, 1), Make(10, 2), Make(20, 3), Make(10, 4)};  // 10 twice: the first kept
  Page(scope, true, 1000, 1, recs, 1001);
  auto loaded = pages::Load(pages::QueryOf(*store_), 1, "rfis", 5);
  ASSERT_TRUE(loaded);
  ASSERT_EQ(loaded->size(), 1u);
  const pages::Page& p = loaded->front();
  ASSERT_EQ(p.size(), 3u);
  EXPECT_EQ(p.at(0).id, 10);
  EXPECT_EQ(p.at(1).id, 20);
  EXPECT_EQ(p.at(2).id, 30);
  EXPECT_EQ(p.at(0).updated_at, Make(10, 2).updated_at);
  EXPECT_EQ(*p.Find(20), 1u);
  EXPECT_FALSE(p.Find(15));
  auto found = Find(scope, 10);
  ASSERT_TRUE(found);
  EXPECT_EQ(found->body, Make(10, 2).json);
  auto rows = store_->Query("SELECT count(*) FROM procore_records");
  ASSERT_TRUE(rows);
  EXPECT_EQ(rows->rows[0].Int(0), 0);  // nothing a record
}

// Random histories of Procore's changes, full reads (some abandoned half-way), incremental reads, webhooks
// (some bringing stale versions), deletion marks with and without Procore's time, through pages in one scope
// and a row a record in the other.
TEST_P(RecordPagesTest, PagesLeaveTheSameRecordsAsARowARecord) {
  const RecordScope with_pages{1, 9, "rfis", 5};
  const RecordScope with_rows{1, 9, "rfis", 6};
  constexpr int64_t kIds = 40;
  for (uint32_t seed : {1u, 2u, 3u, 4u, 5u, 6u}) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    std::mt19937 rng(seed);
    auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<uint32_t>(n)); };
    ASSERT_TRUE(Tx([&](store::Tx& tx) { return DeleteRecords(tx, 1, std::nullopt); }));
    std::map<int64_t, std::pair<int, bool>> truth;  // id -> (version, soft-deleted)
    int version = 1;
    for (int64_t id = 1; id <= 25; ++id) truth[id] = {version, false};
    int64_t now = 10'000;
    for (int step = 0; step < 60; ++step) {
      const int op = pick(10);
      now += 10;
      if (op < 3) {
        // Procore changes: an update, a hard deletion or a new record.
        const int64_t id = 1 + pick(kIds);
        const int what = pick(3);
        if (what == 0 && truth.contains(id)) {
          truth[id] = {++version, false};
        } else if (what == 1) {
          truth.erase(id);
        } else {
          truth[id] = {++version, pick(4) == 0};
        }
      } else if (op < 6) {
        // A full read in pages of 1 to 9 records; one in five stops half-way.
        const int64_t pass = now;
        std::vector<Rec> all;
        for (const auto& [id, v] : truth) all.push_back(Make(id, v.first, v.second));
        const bool abandon = pick(5) == 0;
        size_t at = 0;
        int64_t seq = 1;
        while (at < all.size()) {
          const size_t n = std::min(all.size() - at, static_cast<size_t>(1 + pick(9)));
          std::vector<Rec> page(all.begin() + static_cast<long>(at), all.begin() + static_cast<long>(at + n));
          now += 1;
          Page(with_pages, true, pass, seq, page, now);
          Page(with_rows, false, pass, seq, page, now);
          at += n;
          ++seq;
          if (abandon && at * 2 >= all.size()) break;
        }
        if (!abandon) {
          SweptDigest a = Sweep(with_pages, pass);
          SweptDigest b = Sweep(with_rows, pass);
          EXPECT_EQ(a.swept, b.swept);
          EXPECT_EQ(a.digest.count, b.digest.count);
          EXPECT_EQ(a.digest.checksum, b.digest.checksum);
        }
      } else if (op < 8) {
        // A webhook's fetch or an incremental read: current versions, or a stale one.
        std::vector<Rec> recs;
        for (int k = 0, n = 1 + pick(3); k < n; ++k) {
          const int64_t id = 1 + pick(kIds);
          auto it = truth.find(id);
          if (it == truth.end()) continue;
          const int v = pick(4) == 0 ? std::max(1, it->second.first - 1) : it->second.first;
          recs.push_back(Make(id, v, it->second.second));
        }
        Page(with_pages, false, 0, 0, recs, now);
        Page(with_rows, false, 0, 0, recs, now);
      } else {
        // A delete event (Procore's time known) or a 404 on re-reading (not known).
        const int64_t id = 1 + pick(kIds);
        const int64_t at = pick(2) == 0 ? kBase + (version + pick(3) - 1) * 1000 : 0;
        for (const RecordScope* scope : {&with_pages, &with_rows})
          ASSERT_TRUE(Tx([&](store::Tx& tx) { return MarkDeleted(tx, *scope, id, at, now); }));
      }
      ExpectSame(with_pages, with_rows, kIds, "step " + std::to_string(step) + " op " + std::to_string(op));
      if (HasFailure()) return;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, RecordPagesTest, ::testing::Values("sqlite", "postgres"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace kt::sync
