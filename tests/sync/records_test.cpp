// Record writes: never backwards, deletion marks and tombstones, the sweep, checksums as interfaces.md
// defines.
#include "sync/records.h"

#include <gtest/gtest.h>

#include <memory>

#include "process.h"
#include "store/migrations.h"
#include "util/hash.h"
#include "util/strings.h"

namespace kt::sync {
namespace {

class RecordsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto opened = store::OpenStore("sqlite:" + dir_.path() + "/records.db");
    ASSERT_TRUE(opened);
    store_ = std::move(*opened);
    ASSERT_TRUE(store::Migrate(*store_));
  }

  void Write(int64_t id, const std::string& updated_at, int64_t seen, const std::string& name,
             const std::string& deleted_at = "") {
    std::string json = "{\"id\":" + std::to_string(id) + ",\"name\":\"" + name + "\"}";
    IncomingRecord rec{id, updated_at, deleted_at, json};
    ASSERT_TRUE(store_->Transact([&](store::Tx& tx) -> Status {
      auto w = UpsertRecords(tx, scope_, std::span(&rec, 1), seen);
      if (!w) return tl::unexpected(w.error());
      return {};
    }));
  }

  std::optional<StoredRecord> Find(int64_t id) {
    std::optional<StoredRecord> out;
    EXPECT_TRUE(store_->Transact([&](store::Tx& tx) -> Status {
      auto r = FindRecord(tx, scope_, id, true);
      if (!r) return tl::unexpected(r.error());
      out = *r;
      return {};
    }));
    return out;
  }

  kt::testing::TempDir dir_;
  std::unique_ptr<store::Store> store_;
  RecordScope scope_{1, 9, "rfis", 5};
};

TEST_F(RecordsTest, NeverMovesARecordBackwards) {
  Write(1, "2026-01-02T00:00:00Z", 100, "new");
  Write(1, "2026-01-01T00:00:00Z", 200, "old");
  auto r = Find(1);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->updated_at, "2026-01-02T00:00:00Z");
  EXPECT_NE(r->body.find("new"), std::string::npos);
  // Equal updated_at: the stored copy stays.
  Write(1, "2026-01-02T00:00:00Z", 300, "same-time");
  EXPECT_NE(Find(1)->body.find("new"), std::string::npos);
  Write(1, "2026-01-03T00:00:00.5Z", 400, "newer");
  EXPECT_EQ(Find(1)->updated_at, "2026-01-03T00:00:00.5Z");
}

TEST_F(RecordsTest, DeletionsAndTombstones) {
  Write(1, "2026-01-01T00:00:00Z", 100, "a");
  // A soft delete seen in a list at a later updated_at.
  Write(1, "2026-01-02T00:00:00Z", 200, "a", "2026-01-02T00:00:00Z");
  EXPECT_TRUE(Find(1)->deleted);

  Write(2, "2026-01-01T00:00:00Z", 100, "b");
  ASSERT_TRUE(store_->Transact([&](store::Tx& tx) { return MarkDeleted(tx, scope_, 2, 0, 500); }));
  EXPECT_TRUE(Find(2)->deleted);
  // A page read before the deletion mark keeps it deleted; one read after it shows it is live after all.
  Write(2, "2026-01-01T00:00:00Z", 400, "b");
  EXPECT_TRUE(Find(2)->deleted);
  Write(2, "2026-01-01T00:00:00Z", 600, "b");
  EXPECT_FALSE(Find(2)->deleted);

  // A delete event for an unseen record leaves a tombstone that older copies cannot override...
  const int64_t deleted_at = *ParseIso8601("2026-01-05T00:00:00Z");
  ASSERT_TRUE(store_->Transact([&](store::Tx& tx) { return MarkDeleted(tx, scope_, 3, deleted_at, 700); }));
  Write(3, "2026-01-04T00:00:00Z", 800, "c");
  EXPECT_TRUE(Find(3)->deleted);
  // ...but a newer version (restored since) can.
  Write(3, "2026-01-06T00:00:00Z", 900, "c");
  EXPECT_FALSE(Find(3)->deleted);
}

TEST_F(RecordsTest, SweepMarksWhatAFullReadDidNotSee) {
  Write(1, "2026-01-01T00:00:00Z", 100, "a");
  Write(2, "2026-01-01T00:00:00Z", 100, "b");
  Write(3, "2026-01-01T00:00:00Z", 100, "c");
  // A full read starting at 1000 sees 1 and 3 (3 at an older version than stored: still live).
  Write(1, "2026-01-01T00:00:00Z", 1000, "a");
  Write(3, "2025-12-01T00:00:00Z", 1001, "c");
  int64_t swept = 0;
  ASSERT_TRUE(store_->Transact([&](store::Tx& tx) -> Status {
    auto r = SweepUnseen(tx, scope_, 1000);
    if (!r) return tl::unexpected(r.error());
    swept = *r;
    return {};
  }));
  EXPECT_EQ(swept, 1);
  EXPECT_TRUE(Find(2)->deleted);
  EXPECT_FALSE(Find(3)->deleted);
}

TEST_F(RecordsTest, SweepAndDigestReadsOnceWhatSweepThenDigestWouldGive) {
  Write(1, "2026-01-01T00:00:00Z", 100, "a");
  Write(2, "2026-01-01T00:00:00Z", 100, "b");
  Write(3, "2026-01-01T00:00:00Z", 100, "c");
  Write(4, "2026-01-01T00:00:00Z", 100, "d", "2026-01-01T00:00:00Z");  // deleted already
  auto sweep_and_digest = [&](int64_t since) {
    SweptDigest out;
    EXPECT_TRUE(store_->Transact([&](store::Tx& tx) -> Status {
      auto r = SweepAndDigest(tx, scope_, since);
      if (!r) return tl::unexpected(r.error());
      out = *r;
      return {};
    }));
    return out;
  };
  // Everything seen since 100: nothing to sweep.
  auto all = sweep_and_digest(100);
  EXPECT_EQ(all.swept, 0);
  EXPECT_EQ(all.digest.count, 3);
  EXPECT_EQ(all.digest.checksum,
            Sha256Hex("1:2026-01-01T00:00:00Z\n2:2026-01-01T00:00:00Z\n3:2026-01-01T00:00:00Z"));
  // A read from 1000 saw 1 and 3 (3 at an older version than stored): 2 is swept and left out.
  Write(1, "2026-01-01T00:00:00Z", 1000, "a");
  Write(3, "2025-12-01T00:00:00Z", 1001, "c");
  auto read = sweep_and_digest(1000);
  EXPECT_EQ(read.swept, 1);
  EXPECT_TRUE(Find(2)->deleted);
  EXPECT_FALSE(Find(3)->deleted);
  EXPECT_EQ(read.digest.count, 2);
  EXPECT_EQ(read.digest.checksum, Sha256Hex("1:2026-01-01T00:00:00Z\n3:2026-01-01T00:00:00Z"));
  auto after = DigestStream(*store_, scope_);
  ASSERT_TRUE(after);
  EXPECT_EQ(after->checksum, read.digest.checksum);
}

TEST_F(RecordsTest, ChecksumIsSha256OfSortedLines) {
  EXPECT_EQ(ChecksumOfLines({}), Sha256Hex(""));
  // Byte-string order: "10:..." sorts before "9:...".
  EXPECT_EQ(ChecksumOfLines({"9:2026-01-01T00:00:00Z", "10:2026-01-01T00:00:00Z"}),
            Sha256Hex("10:2026-01-01T00:00:00Z\n9:2026-01-01T00:00:00Z"));
  Write(9, "2026-01-01T00:00:00Z", 1, "x");
  Write(10, "2026-01-01T00:00:00Z", 1, "y");
  Write(11, "2026-01-01T00:00:00Z", 1, "z", "2026-01-01T00:00:00Z");
  auto digest = DigestStream(*store_, scope_);
  ASSERT_TRUE(digest);
  EXPECT_EQ(digest->count, 2);
  EXPECT_EQ(digest->checksum, Sha256Hex("10:2026-01-01T00:00:00Z\n9:2026-01-01T00:00:00Z"));
}

TEST_F(RecordsTest, PagesOfAnySizeAreWrittenInChunks) {
  std::vector<std::string> jsons;
  std::vector<std::string> times;
  for (int i = 0; i < 301; ++i) {
    jsons.push_back("{\"id\":" + std::to_string(1000 + i) + "}");
    times.push_back("2026-01-01T00:00:00Z");
  }
  std::vector<IncomingRecord> records;
  for (int i = 0; i < 301; ++i) records.push_back({1000 + i, times[i], "", jsons[i]});
  records.push_back(records[5]);  // a repeated id is written once
  ASSERT_TRUE(store_->Transact([&](store::Tx& tx) -> Status {
    auto w = UpsertRecords(tx, scope_, records, 1);
    if (!w) return tl::unexpected(w.error());
    return {};
  }));
  auto digest = DigestStream(*store_, scope_);
  ASSERT_TRUE(digest);
  EXPECT_EQ(digest->count, 301);
}

// The typed tables take their columns from the record's fields the way nlohmann-json reads them: escapes,
// nested objects, numbers and booleans written as text, a key given twice (the last counts), fields of every
// other kind beside them, and a record simdjson cannot read (an integer beyond 64 bits), which nlohmann
// reads.
TEST_F(RecordsTest, TypedRowsTakeTheirColumnsFromTheRecordsFields) {
  auto write = [&](const std::string& stream, int64_t id, const std::string& json) {
    const RecordScope scope{1, 9, stream, 0};
    IncomingRecord rec{id, "2026-01-02T00:00:00Z", "", json};
    ASSERT_TRUE(store_->Transact([&](store::Tx& tx) -> Status {
      auto w = UpsertRecords(tx, scope, std::span(&rec, 1), 100);
      if (!w) return tl::unexpected(w.error());
      return {};
    }));
  };
  auto row = [&](const std::string& sql) {
    auto r = store_->Query(sql, {});
    EXPECT_TRUE(r);
    std::vector<std::string> out;
    if (!r || r->rows.empty()) return out;
    for (size_t i = 0; i < r->rows[0].size(); ++i) out.push_back(r->rows[0].Text(i));
    return out;
  };
  const std::string others =
      R"("address": {"city": "Austin", "lines": ["1 Main", null, 2.5]}, "flags": [true, false], "x": -3)";
  write("projects", 11,
        R"({"id": 11, "name": "first", )" + others +
            R"(, "name": "Tower \"A\" \u00e9\\n", "display_name": null, "project_number": 42,)"
            R"( "project_stage": {"id": 3, "name": "Course of Construction"}, "active": false})");
  EXPECT_EQ(
      row("SELECT name, display_name, project_number, stage, active, deleted FROM procore_projects "
          "WHERE procore_id = 11"),
      (std::vector<std::string>{"Tower \"A\" \u00e9\\n", "", "42", "Course of Construction", "0", "0"}));
  write("projects", 12,
        R"({"id": 12, "project_number": 1.50, "project_stage": "odd", "stage_name": "Bidding"})");
  EXPECT_EQ(row("SELECT name, project_number, stage, active FROM procore_projects WHERE procore_id = 12"),
            (std::vector<std::string>{"", "1.5", "Bidding", "1"}));
  write("company_users", 21,
        R"({"id": 21, "first_name": "Ana", "last_name": "Ruiz", "is_employee": 1, "job_title": true, )" +
            others + R"(, "vendor": {"id": "77", "name": "Acme", "extra": [1]}, "is_active": "False"})");
  EXPECT_EQ(row("SELECT first_name, last_name, job_title, is_active, is_employee, vendor_id, vendor_name, "
                "deleted FROM procore_users WHERE procore_id = 21"),
            (std::vector<std::string>{"Ana", "Ruiz", "true", "0", "1", "77", "Acme", "1"}));
  write("vendors", 31,
        R"({"id": 31, "big": 123456789012345678901234567890, "name": "Big Co", "business_phone": 5125550100,)"
        R"( "abbreviated_name": "BC", "email_address": "ap@big.example"})");
  EXPECT_EQ(row("SELECT name, abbreviated_name, email_address, business_phone, is_active, deleted FROM "
                "procore_vendors WHERE procore_id = 31"),
            (std::vector<std::string>{"Big Co", "BC", "ap@big.example", "5125550100", "1", "0"}));
  // A page of several: an older copy of 21 leaves its typed row as it was; the others are written.
  const std::string older = R"({"id": 21, "first_name": "Old", "is_active": true})";
  const std::string fresh = R"({"id": 22, "first_name": "Bo", "vendor": {"id": 5, "name": "V"}})";
  const std::string gone = R"({"id": 23, "first_name": "Cy"})";
  std::vector<IncomingRecord> page{{23, "2026-01-03T00:00:00Z", "2026-01-03T00:00:00Z", gone},
                                   {21, "2026-01-01T00:00:00Z", "", older},
                                   {22, "2026-01-02T00:00:00Z", "", fresh}};
  ASSERT_TRUE(store_->Transact([&](store::Tx& tx) -> Status {
    auto w = UpsertRecords(tx, RecordScope{1, 9, "company_users", 0}, page, 200);
    if (!w) return tl::unexpected(w.error());
    EXPECT_EQ(w->written, 3);
    EXPECT_EQ(w->max_updated_at, "2026-01-03T00:00:00Z");
    return {};
  }));
  EXPECT_EQ(row("SELECT first_name, is_active, deleted FROM procore_users WHERE procore_id = 21"),
            (std::vector<std::string>{"Ana", "0", "1"}));
  EXPECT_EQ(
      row("SELECT first_name, vendor_id, vendor_name, deleted FROM procore_users WHERE procore_id = 22"),
      (std::vector<std::string>{"Bo", "5", "V", "0"}));
  EXPECT_EQ(row("SELECT first_name, deleted FROM procore_users WHERE procore_id = 23"),
            (std::vector<std::string>{"Cy", "1"}));
  write("vendors", 32, R"([1, 2])");  // not an object: a row of defaults, as before
  EXPECT_EQ(row("SELECT name, is_active, deleted FROM procore_vendors WHERE procore_id = 32"),
            (std::vector<std::string>{"", "1", "0"}));
}

TEST_F(RecordsTest, ParsesSingleRecordsIncludingV2Wrapping) {
  auto a = ParseRecordJson(R"( {"id": 5, "updated_at": "2026-01-01T00:00:00Z", "deleted_at": null} )");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->id, 5);
  EXPECT_EQ(a->json, R"({"id": 5, "updated_at": "2026-01-01T00:00:00Z", "deleted_at": null})");
  auto b = ParseRecordJson(R"({"data": {"id": "6", "updated_at": "2026-01-01T00:00:00Z"}})");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->id, 6);
  EXPECT_FALSE(ParseRecordJson("[]"));
  EXPECT_FALSE(ParseRecordJson(R"({"name": "no id"})"));
}

}  // namespace
}  // namespace kt::sync
