// The generated data: deterministic per preset and seed, timestamps ordered for range search, the overlay of
// changes, ids above 2^32 in the large preset, and truth checksums.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "emulator/names.h"
#include "emulator/records.h"
#include "emulator/world.h"
#include "util/hash.h"
#include "util/strings.h"

namespace procore_emulator {
namespace {

std::string RecordJson(const World& world, const StreamKey& key, const RecordState& r) {
  std::string out;
  JsonWriter w(out);
  WriteRecord(w, world, key, r);
  return out;
}

TEST(EmulatorData, SamePresetAndSeedGiveTheSameRecords) {
  World a(Preset::kSmall, 42), b(Preset::kSmall, 42), c(Preset::kSmall, 43);
  StreamKey key{0, Stream::kRfis, 1};
  auto pa = a.List(key, {}, 0, 1000), pb = b.List(key, {}, 0, 1000);
  ASSERT_EQ(pa.total, pb.total);
  for (size_t i = 0; i < pa.records.size(); ++i)
    EXPECT_EQ(RecordJson(a, key, pa.records[i]), RecordJson(b, key, pb.records[i]));
  EXPECT_NE(RecordJson(a, key, pa.records[0]), RecordJson(c, key, c.List(key, {}, 0, 1).records[0]));
}

TEST(EmulatorData, EveryStreamHasRecordsThatParseAsJsonWithIdAndUpdatedAt) {
  World world(Preset::kSmall, 1);
  for (Stream s : AllStreams()) {
    StreamKey key{0, s, Info(s).company_level ? -1 : 0};
    auto page = world.List(key, {}, 0, 50);
    ASSERT_GT(page.total, 0) << Info(s).key;
    for (const auto& r : page.records) {
      auto j = nlohmann::json::parse(RecordJson(world, key, r));
      EXPECT_EQ(j["id"].get<int64_t>(), r.id) << Info(s).key;
      EXPECT_EQ(j["updated_at"].get<std::string>(), kt::FormatIso8601(r.updated_at_ms)) << Info(s).key;
    }
  }
}

TEST(EmulatorData, EmailsWriteLatinLettersWithoutTheirMarks) {
  EXPECT_EQ(EmailFor("Zoë", "Green0", "ridgeline.example"), "zoe.green0@ridgeline.example");
  EXPECT_EQ(EmailFor("Tomás", "Øystad", "x.example"), "tomas.oystad@x.example");
  EXPECT_EQ(EmailFor("Siân", "Weiß-Łukasiewicz", "x.example"), "sian.weisslukasiewicz@x.example");
  EXPECT_EQ(EmailFor("Æsa", "Ødegård", "x.example"), "aesa.odegard@x.example");
  EXPECT_EQ(EmailFor("健", "O'Brien", "x.example"), "user.obrien@x.example");  // no Latin letter: a stand-in
}

TEST(EmulatorData, PresetSizes) {
  auto total = [](const World& w, int slot, int projects_to_count) {
    int64_t n = 0;
    for (Stream s : AllStreams()) {
      if (Info(s).company_level) {
        n += w.BaseCount({slot, s, -1});
      } else {
        for (int p = 0; p < projects_to_count; ++p) n += w.BaseCount({slot, s, p});
      }
    }
    return n;
  };
  World small(Preset::kSmall, 1);
  EXPECT_EQ(small.Companies().size(), 1u);
  EXPECT_EQ(small.ProjectCount(0), 3);
  int64_t n_small = total(small, 0, 3);
  EXPECT_GT(n_small, 150);
  EXPECT_LT(n_small, 800);
  World demo(Preset::kDemo, 1);
  EXPECT_EQ(demo.ProjectCount(0), 40);
  int64_t n_demo = total(demo, 0, 40);
  EXPECT_GT(n_demo, 10'000);
  EXPECT_LT(n_demo, 100'000);
  World large(Preset::kLarge, 1);
  EXPECT_EQ(large.Companies().size(), 2u);
  EXPECT_EQ(large.ProjectCount(0) + large.ProjectCount(1), 1000);
  int64_t n_large = total(large, 0, large.ProjectCount(0)) + total(large, 1, large.ProjectCount(1));
  EXPECT_GT(n_large, 800'000);
  EXPECT_LT(n_large, 1'500'000);
  EXPECT_GT(large.Companies()[0].id, int64_t{1} << 32);
  EXPECT_GT(large.ProjectId(1, 399), int64_t{1} << 32);
  EXPECT_LT(large.IdFor({1, Stream::kManpowerLogs, 399}, 5000), int64_t{1} << 53);
}

TEST(EmulatorData, LargeRecordsAreGeneratedWithoutMaterializing) {
  World large(Preset::kLarge, 5);
  StreamKey key{1, Stream::kSubmittals, 377};
  auto page = large.List(key, {}, 10, 5);
  ASSERT_EQ(page.records.size(), 5u);
  auto again = large.Get(key, page.records[2].id);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->updated_at_ms, page.records[2].updated_at_ms);
  auto project = large.FindProject(large.ProjectId(1, 377));
  ASSERT_TRUE(project);
  EXPECT_EQ(project->company_slot, 1);
  EXPECT_EQ(project->index, 377);
}

TEST(EmulatorData, BaseUpdatedAtGrowsWithIdSoRangesBinarySearch) {
  World world(Preset::kDemo, 3);
  StreamKey key{0, Stream::kSubmittals, 4};
  auto all = world.List(key, {}, 0, 100000).records;
  for (size_t i = 1; i < all.size(); ++i) EXPECT_LE(all[i - 1].updated_at_ms, all[i].updated_at_ms);
  ListFilter f;
  f.updated_from_ms = all[all.size() / 3].updated_at_ms;
  f.updated_to_ms = all[2 * all.size() / 3].updated_at_ms;
  int64_t expected = 0;
  for (const auto& r : all)
    if (r.updated_at_ms >= *f.updated_from_ms && r.updated_at_ms <= *f.updated_to_ms) ++expected;
  EXPECT_EQ(world.List(key, f, 0, 100000).total, expected);
}

TEST(EmulatorData, ChangesAreNewerDeterministicAndShowInListsAndTruth) {
  World a(Preset::kSmall, 9), b(Preset::kSmall, 9);
  const int64_t now = 1'800'000'000'000;
  auto ca = a.ApplyChanges(0, 200, {}, 77, now), cb = b.ApplyChanges(0, 200, {}, 77, now);
  ASSERT_EQ(ca.size(), cb.size());
  int creates = 0, deletes = 0;
  for (size_t i = 0; i < ca.size(); ++i) {
    EXPECT_EQ(ca[i].record.id, cb[i].record.id);
    EXPECT_EQ(ca[i].event_type, cb[i].event_type);
    EXPECT_GE(ca[i].record.updated_at_ms, World::kBaseEndMs);
    creates += ca[i].event_type == "create";
    deletes += ca[i].event_type == "delete";
  }
  EXPECT_GT(creates, 0);
  EXPECT_GT(deletes, 0);
  auto ta = a.Truth(0, std::nullopt), tb = b.Truth(0, std::nullopt);
  ASSERT_EQ(ta.size(), tb.size());
  for (size_t i = 0; i < ta.size(); ++i) EXPECT_EQ(ta[i].checksum, tb[i].checksum);
  World fresh(Preset::kSmall, 9);
  auto tf = fresh.Truth(0, std::nullopt);
  int differing = 0;
  for (size_t i = 0; i < ta.size(); ++i) differing += ta[i].checksum != tf[i].checksum;
  EXPECT_GT(differing, 0);

  // A created record is listed after the base records, an update replaces its base version.
  for (const auto& change : ca) {
    auto got = a.Get(change.key, change.record.id);
    ASSERT_TRUE(got);
    if (change.event_type == "create") {
      EXPECT_GE(got->index, a.BaseCount(change.key));
    }
  }
}

TEST(EmulatorData, TruthChecksumFollowsInterfacesMd) {
  World world(Preset::kSmall, 2);
  StreamKey key{0, Stream::kTrades, -1};
  auto records = world.List(key, {}, 0, 100000).records;
  std::vector<std::string> lines;
  for (const auto& r : records)
    lines.push_back(std::to_string(r.id) + ":" + kt::FormatIso8601(r.updated_at_ms));
  std::sort(lines.begin(), lines.end());
  std::string joined;
  for (size_t i = 0; i < lines.size(); ++i) joined += (i ? "\n" : "") + lines[i];
  auto truth = world.Truth(0, std::nullopt, Stream::kTrades);
  ASSERT_EQ(truth.size(), 1u);
  EXPECT_EQ(truth[0].count, static_cast<int64_t>(records.size()));
  EXPECT_EQ(truth[0].checksum, kt::Sha256Hex(joined));
  World empty_world(Preset::kSmall, 2);
  EXPECT_EQ(kt::Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(EmulatorData, SoftDeletedAndDeactivatedRecordsAreHiddenByDefault) {
  World world(Preset::kDemo, 1);
  StreamKey users{0, Stream::kCompanyUsers, -1};
  ListFilter inactive;
  inactive.deleted = ListFilter::Deleted::kOnly;
  auto live = world.List(users, {}, 0, 0).total, gone = world.List(users, inactive, 0, 0).total;
  EXPECT_GT(gone, 0);
  EXPECT_EQ(live + gone, world.BaseCount(users));
  StreamKey wocs{0, Stream::kWorkOrderContracts, 0};
  ListFilter with;
  with.deleted = ListFilter::Deleted::kWith;
  EXPECT_GE(world.List(wocs, with, 0, 0).total, world.List(wocs, {}, 0, 0).total);
}

TEST(EmulatorData, FastTimestampsMatchTheChecksumFormat) {
  for (int64_t ms = 0; ms < 4'102'444'800'000LL; ms += 86'400'000LL * 7 + 3'601'001)
    ASSERT_EQ(TimeOf(ms), kt::FormatIso8601(ms)) << ms;
  EXPECT_EQ(DateOf(World::kBaseEndMs), "2026-01-01");
  EXPECT_EQ(TimeOf(951'782'400'000), "2000-02-29T00:00:00Z");
}

TEST(EmulatorData, ThousandRecordPageIsFast) {
  World world(Preset::kLarge, 1);
  StreamKey key{0, Stream::kCompanyUsers, -1};
  auto start = std::chrono::steady_clock::now();
  auto page = world.List(key, {}, 5000, 1000);
  std::string out;
  JsonWriter w(out);
  w.BeginArray();
  for (const auto& r : page.records) WriteRecord(w, world, key, r);
  w.EndArray();
  auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(page.records.size(), 1000u);
  EXPECT_LT(elapsed, std::chrono::milliseconds(100));  // a few ms on a quiet machine; generous for busy CI
}

TEST(EmulatorData, CreatedProjectComesAfterTheBaseOnesWithItsOwnStreamsAndLeavesThemUnchanged) {
  World world(Preset::kSmall, 7);
  const StreamKey projects{0, Stream::kProjects, -1};
  const auto before = world.List(projects, {}, 0, 1000);
  const int base = world.ProjectCount(0);
  const int64_t now_ms = World::kBaseEndMs + 86'400'000;
  auto created = world.CreateProject(0, now_ms);
  ASSERT_TRUE(created);
  EXPECT_EQ(created->event_type, "create");
  EXPECT_EQ(world.ProjectCount(0), base + 1);
  EXPECT_EQ(world.ProjectIds(0).back(), created->record.id);
  ASSERT_TRUE(world.FindProject(created->record.id));
  EXPECT_EQ(world.FindProject(created->record.id)->index, base);
  EXPECT_EQ(created->record.updated_at_ms, now_ms);

  const auto after = world.List(projects, {}, 0, 1000);
  ASSERT_EQ(after.total, before.total + 1);
  for (size_t i = 0; i < before.records.size(); ++i)
    EXPECT_EQ(after.records[i].updated_at_ms, before.records[i].updated_at_ms) << "base projects unchanged";
  // Its project streams exist like any other project's, and truth covers them.
  EXPECT_GT(world.List({0, Stream::kRfis, base}, {}, 0, 10).total, 0);
  bool in_truth = false;
  for (const auto& e : world.Truth(0, std::nullopt))
    if (e.stream == Stream::kRfis && e.project_id == created->record.id) in_truth = e.count > 0;
  EXPECT_TRUE(in_truth);
}

}  // namespace
}  // namespace procore_emulator
