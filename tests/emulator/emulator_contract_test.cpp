// Every operation of ../shared/procore-contract/ that the emulator serves answers 200 with a body that
// matches the operation's 200 response schema (field names and types).
#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <sstream>

#include "emulator_client.h"
#include "json_schema.h"

namespace procore_emulator::testing {
namespace {

using nlohmann::json;

json ReadJson(const std::string& path) {
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << "cannot read " << path;
  std::stringstream ss;
  ss << in.rdbuf();
  return json::parse(ss.str(), nullptr, false);
}

TEST(SchemaValidator, CatchesWrongTypesMissingRequiredAndEnums) {
  json schema = {{"type", "object"},
                 {"required", {"id"}},
                 {"properties",
                  {{"id", {{"type", "integer"}}},
                   {"status", {{"type", "string"}, {"enum", {"open", "closed"}}}},
                   {"tags", {{"type", "array"}, {"items", {{"type", "string"}}}}},
                   {"at", {{"type", "string"}, {"format", "date-time"}}}}}};
  std::vector<std::string> problems;
  ValidateSchema(schema, {{"id", 1}, {"status", "open"}, {"tags", {"a"}}, {"at", "2026-01-01T00:00:00Z"}},
                 "$", problems);
  EXPECT_TRUE(problems.empty());
  ValidateSchema(schema, {{"id", "1"}, {"status", "weird"}, {"tags", {1}}, {"at", "yesterday"}}, "$",
                 problems);
  EXPECT_EQ(problems.size(), 4u);
  problems.clear();
  ValidateSchema(schema, {{"status", nullptr}}, "$", problems);
  EXPECT_EQ(problems.size(), 1u);  // id is required; the optional null status is accepted
}

class ContractTest : public ::testing::Test {
 protected:
  void SetUp() override {
    app = emu.CreateApp("Contract");
    emu.Install(app, EmulatorClient::AllToolsAt("admin"));
    token = emu.Token(app);
    emu.Control("POST", "/_emulator/companies/" + std::to_string(emu.company_id()) + "/changes",
                {{"count", 80}, {"seed", 5}}, 200);
  }
  EmulatorClient emu;
  AppCredentials app;
  std::string token;
};

TEST_F(ContractTest, ResponsesMatchTheContractSchemas) {
  std::string dir = kt::testing::SharedDir() + "/procore-contract";
  json index = ReadJson(dir + "/index.json");
  ASSERT_TRUE(index.is_array());
  std::string c = std::to_string(emu.company_id());
  std::string p = std::to_string(emu.project_ids()[0]);
  auto users = emu.Get("/rest/v1.3/companies/" + c + "/users?per_page=1", token).Json();
  std::string u = std::to_string(users[0]["id"].get<int64_t>());
  auto views = emu.Get("/rest/v1.0/budget_views?project_id=" + p, token).Json();
  std::string v = std::to_string(views[0]["id"].get<int64_t>());

  // operationId → the request that exercises it.
  std::map<std::string, std::string> gets = {
      {"RestV10MeGet", "/rest/v1.0/me"},
      {"RestV10CompaniesGet", "/rest/v1.0/companies"},
      {"RestV10CompaniesCompanyIdMeGet", "/rest/v1.0/companies/" + c + "/me"},
      {"RestV10SettingsPermissionsGet", "/rest/v1.0/settings/permissions?project_id=" + p},
      {"RestV10ProjectsGet", "/rest/v1.0/projects?company_id=" + c},
      {"RestV11ProjectsGet", "/rest/v1.1/projects?company_id=" + c},
      {"RestV10ProjectsIdGet", "/rest/v1.0/projects/" + p + "?company_id=" + c},
      {"RestV10ProjectsProjectIdToolsGet", "/rest/v1.0/projects/" + p + "/tools"},
      {"RestV13CompaniesCompanyIdUsersGet", "/rest/v1.3/companies/" + c + "/users"},
      {"RestV10CompaniesCompanyIdUsersInactiveGet", "/rest/v1.0/companies/" + c + "/users/inactive"},
      {"RestV10VendorsGet", "/rest/v1.0/vendors?company_id=" + c},
      {"RestV10CompaniesCompanyIdVendorsInactiveGet", "/rest/v1.0/companies/" + c + "/vendors/inactive"},
      {"RestV10ProjectsProjectIdUsersGet", "/rest/v1.0/projects/" + p + "/users"},
      {"RestV10ProjectsProjectIdVendorsGet", "/rest/v1.0/projects/" + p + "/vendors"},
      {"RestV10CostCodesGet", "/rest/v1.0/cost_codes?project_id=" + p},
      {"RestV10CompaniesCompanyIdTradesGet", "/rest/v1.0/companies/" + c + "/trades"},
      {"RestV10WorkOrderContractsGet",
       "/rest/v1.0/work_order_contracts?project_id=" + p + "&filters[include_deleted]=with"},
      {"RestV10PurchaseOrderContractsGet",
       "/rest/v1.0/purchase_order_contracts?project_id=" + p + "&filters[include_deleted]=with"},
      {"RestV10PrimeContractsGet", "/rest/v1.0/prime_contracts?project_id=" + p},
      {"RestV10ProjectsProjectIdCommitmentChangeOrdersGet",
       "/rest/v1.0/projects/" + p + "/commitment_change_orders"},
      {"RestV10ProjectsProjectIdManpowerLogsGet",
       "/rest/v1.0/projects/" + p + "/manpower_logs?start_date=2020-01-01&end_date=2030-12-31"},
      {"RestV10ProjectsProjectIdPrimeChangeOrdersGet", "/rest/v1.0/projects/" + p + "/prime_change_orders"},
      {"RestV10ProjectsProjectIdRfisGet", "/rest/v1.0/projects/" + p + "/rfis"},
      {"RestV10BudgetViewsGet", "/rest/v1.0/budget_views?project_id=" + p},
      {"RestV10BudgetViewsBudgetViewIdDetailRowsGet",
       "/rest/v1.0/budget_views/" + v + "/detail_rows?project_id=" + p},
      {"RestV11ChangeEventsGet",
       "/rest/v1.1/change_events?project_id=" + p + "&filters[include_deleted]=with"},
      {"RestV11ProjectsProjectIdDirectCostsGet", "/rest/v1.1/projects/" + p + "/direct_costs"},
      {"RestV11ProjectsProjectIdSubmittalsGet", "/rest/v1.1/projects/" + p + "/submittals"},
      {"RestV10CompanyBaseUrlGet", "/rest/v1.0/company_base_url"},
      {"RestV10CompaniesCompanyIdPermissionTemplatesGet",
       "/rest/v1.0/companies/" + c + "/permission_templates"},
      {"RestV10CompaniesCompanyIdUsersUserIdProjectAssignmentsGet",
       "/rest/v1.0/companies/" + c + "/users/" + u + "/project_assignments"},
  };

  std::set<std::string> checked, not_served;
  for (const auto& op : index) {
    std::string id = op["operationId"];
    json spec = ReadJson(dir + "/endpoints/" + id + ".json");
    ASSERT_TRUE(spec.contains("responses")) << id;
    json schema = spec["responses"].contains("200") ? spec["responses"]["200"].value("schema", json::object())
                                                    : json::object();
    HttpAnswer answer;
    if (gets.count(id)) {
      answer = emu.Get(gets[id], token);
    } else if (id == "OauthTokenPost") {
      answer = emu.Request(
          "POST", "/oauth/token",
          "grant_type=client_credentials&client_id=" + app.client_id + "&client_secret=" + app.client_secret,
          {{"Content-Type", "application/x-www-form-urlencoded"}});
    } else if (id == "OauthTokenInfoGet") {
      answer = emu.Request("GET", "/oauth/token/info", {}, {{"Authorization", "Bearer " + token}});
    } else if (id == "OauthRevokePost") {
      std::string spare = emu.Token(app);
      answer = emu.Request(
          "POST", "/oauth/revoke",
          "token=" + spare + "&client_id=" + app.client_id + "&client_secret=" + app.client_secret,
          {{"Content-Type", "application/x-www-form-urlencoded"}});
    } else {
      not_served.insert(id);  // the Webhooks API: validated by the webhooks tests
      continue;
    }
    ASSERT_EQ(answer.status, 200) << id << ": " << answer.body;
    json body = answer.Json();
    ASSERT_FALSE(body.is_discarded()) << id;
    if (body.is_array()) {
      EXPECT_FALSE(body.empty()) << id << " answered an empty list: nothing validated";
    }
    std::vector<std::string> problems;
    ValidateSchema(schema, body, id, problems);
    for (const auto& problem : problems) ADD_FAILURE() << problem;
    checked.insert(id);
  }
  for (const auto& id : not_served)
    EXPECT_EQ(id.rfind("RestV10Webhooks", 0), 0u) << id << " is not exercised";
  EXPECT_EQ(checked.size(), gets.size() + 3);
}

}  // namespace
}  // namespace procore_emulator::testing
