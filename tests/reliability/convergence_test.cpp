// The convergence checker itself: converged after an initial sync; after changes KTrack has not seen, it
// names exactly the records created, updated and deleted; it finds a record held twice; and it sees the
// repair.
#include <gtest/gtest.h>

#include <map>

#include "reliability_env.h"

namespace kt::testing {
namespace {

using nlohmann::json;
using Kind = RecordDifference::Kind;

// id -> updated_at of every live rfis record the truth lists, per project.
std::map<int64_t, std::string> TruthRfis(ReliabilityEnv& env) {
  std::map<int64_t, std::string> out;
  json t = env.emulator.Call("GET", "/_emulator/truth?company_id=" + std::to_string(env.emulator.company_id) +
                                        "&stream=rfis&records=true");
  for (const auto& entry : t.at("streams"))
    for (const auto& r : entry.at("records")) out[r.at("id").get<int64_t>()] = r.at("updated_at");
  return out;
}

TEST(ConvergenceChecker, NamesEveryDifferingRecordAndEveryRecordHeldTwice) {
  ReliabilityEnv env;
  ASSERT_NO_FATAL_FAILURE(env.Start({.preset = "small"}));
  ASSERT_NO_FATAL_FAILURE(env.Connect());
  ConvergenceReport report;
  ASSERT_TRUE(env.WaitConverged(std::chrono::seconds(120), &report)) << report.Describe();
  EXPECT_GT(report.streams_compared, 30);
  EXPECT_GT(report.records_in_truth, 200);

  // Changes KTrack cannot hear of: every webhook delivery fails for now, reconciliation is an hour away.
  env.emulator.Faults({{"webhook_failure_rate", 1.0}});
  const auto before = TruthRfis(env);
  ASSERT_EQ(env.emulator.Call("POST",
                              "/_emulator/companies/" + std::to_string(env.emulator.company_id) + "/changes",
                              {{"count", 30}, {"streams", {"rfis"}}, {"seed", 4}})["applied"],
            30);
  const auto after = TruthRfis(env);
  std::map<int64_t, Kind> expected;
  for (const auto& [id, updated_at] : after) {
    auto it = before.find(id);
    if (it == before.end())
      expected[id] = Kind::kMissing;
    else if (it->second != updated_at)
      expected[id] = Kind::kStale;
  }
  for (const auto& [id, updated_at] : before)
    if (!after.count(id)) expected[id] = Kind::kExtra;
  ASSERT_FALSE(expected.empty());

  report = env.Check();
  EXPECT_FALSE(report.Converged());
  std::map<int64_t, Kind> found;
  for (const auto& s : report.streams) {
    EXPECT_EQ(s.stream, "rfis") << report.Describe();
    for (const auto& r : s.records) found[r.id] = r.kind;
  }
  EXPECT_EQ(found, expected) << report.Describe(20, 40);

  // A record held twice (the same RFI under a project it does not belong to) is found in the database.
  const int64_t twice = after.begin()->first;
  env.Exec(
      "INSERT INTO procore_records (client_id, stream, project_id, procore_id, company_id, updated_at, "
      "updated_at_ms, deleted, body) VALUES (" +
      std::to_string(env.tenant.client_id) + ", 'rfis', -1, " + std::to_string(twice) +
      ", 0, '', 0, 0, '{}')");
  auto rows = DuplicateRows(env.database(), env.tenant.client_id);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0], "rfis:" + std::to_string(twice) + " x 2");
  EXPECT_FALSE(env.Check().duplicate_rows.empty());
  env.Exec("DELETE FROM procore_records WHERE project_id = -1");
  EXPECT_TRUE(DuplicateRows(env.database(), env.tenant.client_id).empty());

  // Reconciliation repairs it, and the checker sees that.
  env.RequestReconcile();
  EXPECT_TRUE(env.WaitConverged(std::chrono::seconds(90), &report)) << report.Describe();
}

}  // namespace
}  // namespace kt::testing
