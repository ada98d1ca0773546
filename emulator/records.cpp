// Field generators for the sixteen streams. Fields that never change derive from (seed, key, index); fields
// that updates change derive from the revision too, so an updated record really looks different.
#include "emulator/records.h"

#include <cstdio>

#include "emulator/dice.h"
#include "emulator/names.h"
#include "util/strings.h"

namespace procore_emulator {
namespace {

constexpr int64_t kDayMs = 86'400'000;

std::string Money(Dice& d, int64_t lo_dollars, int64_t hi_dollars) {
  int64_t cents = d.Range(lo_dollars * 100, hi_dollars * 100);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%lld.%02lld", static_cast<long long>(cents / 100),
                static_cast<long long>(cents % 100));
  return buf;
}

std::string Fixed2(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", v);
  return buf;
}

std::string Padded(std::string_view prefix, int64_t n, int width) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%0*lld", width, static_cast<long long>(n));
  return std::string(prefix) + buf;
}

// Everything a writer needs about one record.
struct Ctx {
  const World& world;
  const StreamKey& key;
  const RecordState& r;
  Dice fixed;  // same for every revision
  Dice rev;    // changes with each update
  uint64_t Seed() const { return world.Seed(); }
  int Slot() const { return key.company_slot; }
  const CompanyData& Company() const { return world.Companies()[static_cast<size_t>(key.company_slot)]; }
  int64_t ProjectId() const { return world.ProjectId(key.company_slot, key.project_index); }
  std::string ProjectTitle() const { return ProjectName(Seed(), key.company_slot, key.project_index); }
  std::string Domain() const { return "ridgeline-builders.example"; }
};

Ctx MakeCtx(const World& world, const StreamKey& key, const RecordState& r) {
  uint64_t s = static_cast<uint64_t>(key.stream);
  return Ctx{world, key, r, Dice(Mix({world.Seed(), 100 + s, key.Packed(), static_cast<uint64_t>(r.index)})),
             Dice(Mix({world.Seed(), 200 + s, key.Packed(), static_cast<uint64_t>(r.index),
                       static_cast<uint64_t>(r.revision)}))};
}

// Related records, referenced by id and name the way Procore embeds them.
struct UserRef {
  int64_t id;
  std::string name, login;
};
UserRef User(const Ctx& c, int64_t index) {
  StreamKey k{c.Slot(), Stream::kCompanyUsers, -1};
  std::string first = PersonFirstName(c.Seed(), c.Slot(), index),
              last = PersonLastName(c.Seed(), c.Slot(), index);
  return {c.world.IdFor(k, index), first + " " + last,
          EmailFor(first, last + std::to_string(index), c.Domain())};
}
UserRef RandomUser(const Ctx& c, Dice& d) {
  return User(c, d.Range(0, c.world.UserCount(c.Slot()) - 1));
}

struct VendorRef {
  int64_t id;
  std::string name;
};
VendorRef Vendor(const Ctx& c, int64_t index) {
  return {c.world.IdFor({c.Slot(), Stream::kVendors, -1}, index), VendorName(c.Seed(), c.Slot(), index)};
}
VendorRef RandomVendor(const Ctx& c, Dice& d) {
  return Vendor(c, d.Range(0, c.world.VendorCount(c.Slot()) - 1));
}

void WriteUser(JsonWriter& w, std::string_view key, const UserRef& u) {
  w.Key(key);
  w.BeginObject();
  w.Field("id", u.id);
  w.Field("login", u.login);
  w.Field("name", u.name);
  w.EndObject();
}

struct CostCodeParts {
  Division division;
  std::string code, name;
};
CostCodeParts CostCodeOf(int64_t index) {
  const auto& divisions = pools::Divisions();
  const Division& div = divisions[static_cast<size_t>(index) % divisions.size()];
  int64_t n = index / static_cast<int64_t>(divisions.size());
  std::string code = std::string(div.code) + "-" + std::to_string(100 + n * 10);
  std::string name(
      pools::CostCodeNames()[static_cast<size_t>(index * 7 + n) % pools::CostCodeNames().size()]);
  return {div, code, name};
}
int64_t CostCodeId(const Ctx& c, int64_t index) {
  return c.world.IdFor({c.Slot(), Stream::kCostCodes, c.key.project_index}, index);
}
int64_t RandomCostCodeIndex(const Ctx& c, Dice& d) {
  return d.Range(0, c.world.BaseCount({c.Slot(), Stream::kCostCodes, c.key.project_index}) - 1);
}

int64_t SmallId(const Ctx& c, uint64_t what, int64_t n) {
  return 10'000 + static_cast<int64_t>(Mix({c.Seed(), what, static_cast<uint64_t>(n)}) % 90'000);
}

void WriteLocation(JsonWriter& w, const Ctx& c, Dice& d) {
  int64_t n = d.Range(0, static_cast<int64_t>(pools::Locations().size()) - 1);
  std::string_view name = pools::Locations()[static_cast<size_t>(n)];
  w.Key("location");
  w.BeginObject();
  w.Field("id", SmallId(c, 900, n));
  w.Field("name", name);
  w.Field("node_name", name);
  w.FieldNull("parent_id");
  w.Field("created_at", TimeOf(World::kBaseStartMs));
  w.Field("updated_at", TimeOf(World::kBaseStartMs));
  w.EndObject();
}

void WriteTimestamps(JsonWriter& w, const RecordState& r, bool with_deleted) {
  w.Field("created_at", TimeOf(r.created_at_ms));
  w.Field("updated_at", TimeOf(r.updated_at_ms));
  if (with_deleted) {
    if (r.deleted_at_ms)
      w.Field("deleted_at", TimeOf(r.deleted_at_ms));
    else
      w.FieldNull("deleted_at");
  }
}

void WriteCurrency(JsonWriter& w) {
  w.Key("currency_configuration");
  w.BeginObject();
  w.Field("currency_iso_code", "USD");
  w.EndObject();
}

void WriteOrigin(JsonWriter& w) {
  w.FieldNull("origin_id");
  w.FieldNull("origin_data");
  w.FieldNull("origin_code");
}

// ---- company streams ----

void WriteProject(JsonWriter& w, Ctx& c, RecordView view) {
  const RecordState& r = c.r;
  int idx = r.index;
  const City& city = ProjectCity(c.Seed(), c.Slot(), idx);
  std::string name = ProjectName(c.Seed(), c.Slot(), idx);
  std::string number = Padded("", 2020 + idx % 6, 4) + "-" + Padded("", 100 + idx, 3);
  static constexpr std::string_view kStages[] = {"Pre-Construction", "Course of Construction", "Bidding",
                                                 "Warranty", "Post-Construction"};
  std::string_view stage = kStages[c.rev.Next() % 5];
  int64_t start_ms = r.created_at_ms + c.fixed.Range(10, 90) * kDayMs;
  int64_t finish_ms = start_ms + c.fixed.Range(180, 900) * kDayMs;
  std::string total = Money(c.rev, 800'000, 95'000'000);
  std::string phone =
      "+1 " + Padded("", 200 + idx % 700, 3) + "-555-" + Padded("", c.fixed.Range(0, 9999), 4);
  w.BeginObject();
  w.Field("id", r.id);
  w.Field("name", name);
  w.Field("display_name", number + " - " + name);
  w.Field("project_number", number);
  w.Field("address", std::to_string(c.fixed.Range(100, 9899)) + " " +
                         std::string(pools::Streets()[c.fixed.Next() % pools::Streets().size()]));
  w.Field("city", city.city);
  w.Field("state_code", city.state_code);
  w.Field("country_code", "US");
  w.Field("zip", city.zip);
  w.Field("county", std::string(city.county) + " County");
  w.Field("time_zone", city.time_zone);
  w.FieldDouble("latitude", city.latitude + static_cast<double>(c.fixed.Range(-500, 500)) / 10000.0);
  w.FieldDouble("longitude", city.longitude + static_cast<double>(c.fixed.Range(-500, 500)) / 10000.0);
  w.Field("stage", stage);
  w.Key("project_stage");
  w.BeginObject();
  w.Field("id", SmallId(c, 910, static_cast<int64_t>(stage.size())));
  w.Field("name", stage);
  w.EndObject();
  w.Field("phone", phone);
  w.Field("active", true);
  w.Field("is_demo", false);
  w.FieldNull("parent_job_id");
  w.FieldNull("parent_job");
  w.FieldNull("project_template");
  WriteOrigin(w);
  w.FieldNull("owners_project_id");
  w.Field("total_value", total);
  w.Field("estimated_value", total);
  w.FieldNull("store_number");
  w.Field("accounting_project_number", "ACC-" + number);
  w.FieldNull("designated_market_area");
  w.Field("project_region_id", SmallId(c, 911, idx % 4));
  w.Field("project_bid_type_id", SmallId(c, 912, idx % 3));
  w.Field("project_owner_type_id", SmallId(c, 913, idx % 5));
  w.FieldNull("photo_id");
  w.Field("start_date", DateOf(start_ms));
  w.Field("completion_date", DateOf(finish_ms));
  w.Field("projected_finish_date", DateOf(finish_ms + c.rev.Range(0, 60) * kDayMs));
  w.FieldNull("fax");
  static constexpr std::string_view kSectors[] = {"Healthcare",  "Commercial",     "Education",  "Industrial",
                                                  "Residential", "Infrastructure", "Hospitality"};
  w.Field("sector", kSectors[c.fixed.Next() % 7]);
  static constexpr std::string_view kScopes[] = {"new_construction", "renovation_alteration",
                                                 "maintenance_service"};
  w.Field("work_scope", kScopes[c.fixed.Next() % 3]);
  static constexpr std::string_view kMethods[] = {"design_bid_build_dbb", "design_build_db",
                                                  "construction_management_at_risk_cmar", "other"};
  w.Field("delivery_method", kMethods[c.fixed.Next() % 4]);
  w.Field("estimated_budget", c.fixed.Range(1'000'000, 90'000'000));
  static constexpr std::string_view kPriorities[] = {"low", "medium", "high"};
  w.Field("priority", kPriorities[c.rev.Next() % 3]);
  w.Key("company");
  w.BeginObject();
  w.Field("id", c.Company().id);
  w.Field("name", c.Company().name);
  w.EndObject();
  WriteUser(w, "created_by", RandomUser(c, c.fixed));
  w.Key("custom_fields");
  w.BeginObject();
  w.EndObject();
  w.Field("project_sector_id", SmallId(c, 914, idx % 7));
  WriteTimestamps(w, r, false);
  if (view == RecordView::kShow) {
    w.FieldNull("logo_id");
    w.FieldNull("logo_url");
    w.Field("template", false);
    w.Field("tz_name", city.time_zone == "Arizona" ? "America/Phoenix" : "America/Chicago");
    w.Field("description", "Ground-up construction of " + name + ".");
    w.Field("square_feet", c.fixed.Range(8'000, 650'000));
    w.Field("estimated_start_date", DateOf(start_ms));
    w.Field("estimated_completion_date", DateOf(finish_ms));
    w.Field("actual_start_date", DateOf(start_ms + c.fixed.Range(0, 20) * kDayMs));
    w.FieldNull("warranty_start_date");
    w.FieldNull("warranty_end_date");
    static constexpr std::string_view kFlags[] = {"Green", "Yellow", "Red"};
    w.Field("flag", kFlags[c.rev.Next() % 3]);
    w.Field("locale", "en");
    w.FieldNull("public_notes");
    w.Field("code", number);
    w.Field("is_erp_integrated", false);
    w.Field("project_stage_id", SmallId(c, 910, static_cast<int64_t>(stage.size())));
    w.Field("inbound_email", "project-" + std::to_string(r.id));
    w.Field("inbound_email_address", "project-" + std::to_string(r.id) + "@procore.example");
    w.Key("office");
    w.BeginObject();
    w.Field("id", SmallId(c, 915, 0));
    w.Field("name", "Main Office");
    w.Field("city", city.city);
    w.Field("state_code", city.state_code);
    w.Field("country_code", "US");
    w.EndObject();
    w.Key("departments");
    w.BeginArray();
    w.EndArray();
    w.FieldNull("project_type");
    w.FieldNull("program");
    w.FieldNull("persistent_message");
  }
  w.EndObject();
}

void WriteCompanyUser(JsonWriter& w, Ctx& c) {
  const RecordState& r = c.r;
  std::string first = PersonFirstName(c.Seed(), c.Slot(), r.index);
  std::string last = PersonLastName(c.Seed(), c.Slot(), r.index);
  const City& city = pools::Cities()[c.fixed.Next() % pools::Cities().size()];
  bool employee = c.fixed.Chance(0.6);
  w.BeginObject();
  w.Field("id", r.id);
  w.Field("first_name", first);
  w.Field("last_name", last);
  w.Field("name", first + " " + last);
  std::string initials;
  initials += first.substr(0, first[0] & 0x80 ? 2 : 1);
  initials += last.substr(0, last[0] & 0x80 ? 2 : 1);
  w.Field("initials", initials);
  w.Field("email_address", EmailFor(first, last + std::to_string(r.index), c.Domain()));
  w.Field("job_title", pools::JobTitles()[c.rev.Next() % pools::JobTitles().size()]);
  w.Field("is_active", r.deleted_at_ms == 0);
  w.Field("is_employee", employee);
  if (employee)
    w.Field("employee_id", Padded("E", r.index + 1, 5));
  else
    w.FieldNull("employee_id");
  w.Field("business_phone", "+1 512-555-" + Padded("", c.rev.Range(0, 9999), 4));
  w.FieldNull("business_phone_extension");
  w.Field("mobile_phone", "+1 737-555-" + Padded("", c.fixed.Range(0, 9999), 4));
  w.FieldNull("fax_number");
  w.Field("address", std::to_string(c.fixed.Range(10, 999)) + " " +
                         std::string(pools::Streets()[c.fixed.Next() % pools::Streets().size()]));
  w.Field("city", city.city);
  w.Field("state_code", city.state_code);
  w.Field("zip", city.zip);
  w.Field("country_code", "US");
  VendorRef v = employee ? VendorRef{0, ""} : RandomVendor(c, c.fixed);
  if (employee) {
    w.Key("vendor");
    w.BeginObject();
    w.FieldNull("id");
    w.Field("name", c.Company().name);
    w.EndObject();
  } else {
    w.Key("vendor");
    w.BeginObject();
    w.Field("id", v.id);
    w.Field("name", v.name);
    w.EndObject();
  }
  w.FieldNull("origin_id");
  w.FieldNull("origin_data");
  w.Field("default_permission_template_id", SmallId(c, 920, r.index % 4));
  w.Field("company_permission_template_id", SmallId(c, 921, r.index % 3));
  w.FieldNull("work_classification_id");
  w.FieldNull("avatar");
  w.Field("last_login_at", TimeOf(r.updated_at_ms - c.rev.Range(0, 30) * kDayMs));
  WriteTimestamps(w, r, false);
  w.EndObject();
}

void WriteVendor(JsonWriter& w, Ctx& c) {
  const RecordState& r = c.r;
  std::string name = VendorName(c.Seed(), c.Slot(), r.index);
  const City& city = pools::Cities()[c.fixed.Next() % pools::Cities().size()];
  int64_t trade = c.fixed.Range(0, c.world.BaseCount({c.Slot(), Stream::kTrades, -1}) - 1);
  w.BeginObject();
  w.Field("id", r.id);
  w.Field("name", name);
  std::string abbreviated;
  for (char ch : name)
    if (ch >= 'A' && ch <= 'Z') abbreviated += ch;
  w.Field("abbreviated_name", abbreviated);
  w.Field("legal_name", name);
  w.Field("address", std::to_string(c.rev.Range(100, 9999)) + " " +
                         std::string(pools::Streets()[c.rev.Next() % pools::Streets().size()]));
  w.Field("city", city.city);
  w.Field("state_code", city.state_code);
  w.Field("zip", city.zip);
  w.Field("country_code", "US");
  w.Field("business_phone", "+1 415-555-" + Padded("", c.rev.Range(0, 9999), 4));
  w.FieldNull("fax_number");
  w.Field("email_address", "office@vendor" + std::to_string(r.index) + ".example");
  w.Field("website", "https://vendor" + std::to_string(r.index) + ".example");
  w.Field("is_active", r.deleted_at_ms == 0);
  w.Field("license_number", Padded("LIC-", c.fixed.Range(0, 999999), 6));
  w.Field("union_member", c.fixed.Chance(0.3));
  w.Field("non_union_prevailing_wage", false);
  w.Field("synced_to_erp", false);
  WriteOrigin(w);
  w.Key("trades");
  w.BeginArray();
  w.BeginObject();
  w.Field("id", c.world.IdFor({c.Slot(), Stream::kTrades, -1}, trade));
  w.Field("name", TradeName(trade));
  w.EndObject();
  w.EndArray();
  w.Key("standard_cost_codes");
  w.BeginArray();
  w.EndArray();
  UserRef contact = RandomUser(c, c.rev);
  w.Key("primary_contact");
  w.BeginObject();
  w.Field("id", contact.id);
  w.Field("name", contact.name);
  w.Field("email_address", contact.login);
  w.EndObject();
  w.FieldNull("parent");
  WriteTimestamps(w, r, false);
  w.EndObject();
}

void WriteTrade(JsonWriter& w, Ctx& c) {
  w.BeginObject();
  w.Field("id", c.r.id);
  w.Field("name", TradeName(c.r.index));
  w.Field("active", c.r.revision % 5 != 4);
  WriteTimestamps(w, c.r, false);
  w.EndObject();
}

// ---- project streams ----

void WriteCostCode(JsonWriter& w, Ctx& c) {
  CostCodeParts cc = CostCodeOf(c.r.index);
  w.BeginObject();
  w.Field("id", c.r.id);
  w.Field("name", cc.name);
  w.Field("code", cc.code.substr(3));
  w.Field("full_code", cc.code);
  w.Field("sortable_code", cc.code);
  w.Key("parent");
  w.BeginObject();
  w.Field("id", SmallId(c, 930, std::stoi(std::string(cc.division.code))));
  w.Field("code", cc.division.code);
  w.Field("name", cc.division.name);
  w.EndObject();
  w.Field("standard_cost_code_id", SmallId(c, 931, c.r.index));
  w.Field("biller", c.ProjectTitle());
  w.Field("biller_id", c.ProjectId());
  w.Field("biller_type", "Project");
  w.Field("budgeted", c.rev.Chance(0.7));
  w.Key("line_item_types");
  w.BeginArray();
  w.BeginObject();
  w.Field("id", SmallId(c, 932, 1));
  w.Field("name", "Labor");
  w.Field("code", "L");
  w.EndObject();
  w.EndArray();
  w.Field("position", static_cast<int64_t>(c.r.index) + 1);
  w.FieldNull("origin_id");
  w.FieldNull("origin_data");
  WriteTimestamps(w, c.r, true);
  w.EndObject();
}

void WriteBudgetDetailRow(JsonWriter& w, Ctx& c) {
  int64_t cc_index =
      c.fixed.Range(0, c.world.BaseCount({c.Slot(), Stream::kCostCodes, c.key.project_index}) - 1);
  CostCodeParts cc = CostCodeOf(cc_index);
  static constexpr std::string_view kCategories[] = {"Labor", "Material", "Equipment", "Subcontract",
                                                     "Other"};
  int64_t cat = c.fixed.Range(0, 4);
  std::string original = Money(c.fixed, 5'000, 2'500'000);
  std::string modifications = Money(c.rev, 0, 150'000);
  std::string forecast = Money(c.rev, 5'000, 2'600'000);
  w.BeginObject();
  w.Field("id", c.r.id);
  w.Field("budget_line_item_id", c.r.id);
  w.Field("deletable", true);
  w.Field("company_id", c.Company().id);
  w.Field("company", c.Company().name);
  w.Field("project_id", c.ProjectId());
  w.Field("project", c.ProjectTitle());
  w.FieldNull("wbs_code_id");
  w.Field("biller_id", c.ProjectId());
  w.Field("biller", c.ProjectTitle());
  w.Field("biller_type", "Project");
  w.Field("root_cost_code_id", SmallId(c, 930, std::stoi(std::string(cc.division.code))));
  w.Field("root_cost_code", std::string(cc.division.code) + " - " + std::string(cc.division.name));
  w.Field("cost_code_id", CostCodeId(c, cc_index));
  w.Field("cost_code", cc.code + " - " + cc.name);
  w.FieldNull("cost_code_origin_id");
  w.Field("category_id", SmallId(c, 933, cat));
  w.Field("category", kCategories[cat]);
  w.Field("original_budget_amount", original);
  w.Field("budget_modifications", modifications);
  w.Key("budget_forecast");
  w.BeginObject();
  w.Field("id", c.r.id + 7);
  w.Field("manual_amount", forecast);
  w.Field("automatic_amount", forecast);
  w.Field("amount", forecast);
  w.Field("automatically_calculated", true);
  w.Field("calculation_strategy", "automatic");
  w.Field("notes", "");
  w.EndObject();
  WriteCurrency(w);
  w.FieldNull("unbudgeted_reason");
  WriteTimestamps(w, c.r, false);
  w.EndObject();
}

void WriteCommitment(JsonWriter& w, Ctx& c, bool purchase_order) {
  const RecordState& r = c.r;
  VendorRef v = RandomVendor(c, c.fixed);
  std::string_view scope = pools::ContractScopes()[c.fixed.Next() % pools::ContractScopes().size()];
  static constexpr std::string_view kSubStatuses[] = {
      "Draft", "Out For Bid", "Out For Signature", "Approved", "Complete", "Terminated", "Void"};
  static constexpr std::string_view kPoStatuses[] = {
      "Draft", "Processing", "Submitted", "Partially Received", "Received", "Approved", "Closed"};
  std::string_view status = purchase_order ? kPoStatuses[c.rev.Next() % 7] : kSubStatuses[c.rev.Next() % 7];
  std::string total = Money(c.fixed, 10'000, 4'000'000);
  std::string approved = Money(c.rev, 0, 250'000);
  std::string pending = Money(c.rev, 0, 90'000);
  int64_t contract_ms = r.created_at_ms + c.fixed.Range(1, 20) * kDayMs;
  w.BeginObject();
  w.Field("id", r.id);
  w.Field("number", Padded(purchase_order ? "PO-" : "SC-", r.index + 1, 3));
  w.Field("title", std::string(scope) + " – " + v.name);
  w.Field("status", status);
  w.Field("executed", status == "Approved" || status == "Complete" || status == "Closed");
  w.Key("vendor");
  w.BeginObject();
  w.Field("id", v.id);
  w.Field("company", v.name);
  w.EndObject();
  w.Key("project");
  w.BeginObject();
  w.Field("id", c.ProjectId());
  w.Field("name", c.ProjectTitle());
  w.EndObject();
  w.Field("accounting_method", "amount");
  w.Field("grand_total", total);
  w.Field("revised_contract", total);
  w.Field("approved_change_orders", approved);
  w.Field("pending_change_orders", pending);
  w.Field("pending_revised_contract", total);
  w.Field("draft_change_orders_amount", "0.00");
  w.Field("retainage_percent", Fixed2(static_cast<double>(c.fixed.Range(0, 2)) * 5.0));
  w.Field("percentage_paid", Fixed2(static_cast<double>(c.rev.Range(0, 100))));
  w.Field("remaining_balance_outstanding", Money(c.rev, 0, 500'000));
  w.Field("total_payments", Money(c.rev, 0, 500'000));
  w.Field("total_draw_requests_amount", "0.00");
  w.Field("total_requisitions_amount", Money(c.rev, 0, 400'000));
  w.Field("requisitions_are_enabled", !purchase_order);
  w.Field("billing_schedule_of_values_status", "approved");
  w.Field("description", std::string(scope) + " per plans and specifications.");
  w.Field("inclusions", "All labor, material and equipment.");
  w.Field("exclusions", "Permits and bonds.");
  w.Field("private", c.fixed.Chance(0.2));
  w.Field("show_line_items_to_non_admins", true);
  w.Field("contract_date", DateOf(contract_ms));
  w.Field("execution_date", DateOf(contract_ms + 3 * kDayMs));
  w.Field("issued_on_date", DateOf(contract_ms));
  w.FieldNull("letter_of_intent_date");
  w.FieldNull("approval_letter_date");
  w.FieldNull("returned_date");
  w.Field("signed_contract_received_date", DateOf(contract_ms + 5 * kDayMs));
  if (purchase_order) {
    w.Field("delivery_date", DateOf(contract_ms + c.fixed.Range(10, 120) * kDayMs));
    w.Field("ship_to_address", "Jobsite: " + c.ProjectTitle());
    w.Field("ship_via", "Ground");
    w.Field("bill_to_address", c.Company().name);
    w.Field("payment_terms", "Net 30");
  } else {
    w.Field("contract_start_date", DateOf(contract_ms + 7 * kDayMs));
    w.Field("contract_estimated_completion_date", DateOf(contract_ms + c.fixed.Range(60, 400) * kDayMs));
    w.FieldNull("actual_completion_date");
  }
  w.Key("assignee");
  w.BeginObject();
  w.Field("id", RandomUser(c, c.fixed).id);
  w.EndObject();
  WriteCurrency(w);
  WriteOrigin(w);
  WriteTimestamps(w, r, true);
  w.EndObject();
}

void WriteChangeOrder(JsonWriter& w, Ctx& c, bool prime) {
  const RecordState& r = c.r;
  static constexpr std::string_view kStatuses[] = {"draft",   "pending",  "approved", "approved",
                                                   "revised", "rejected", "void",     "no_charge"};
  std::string_view status = kStatuses[c.rev.Next() % 8];
  Stream contract_stream = prime ? Stream::kPrimeContracts : Stream::kWorkOrderContracts;
  StreamKey contract_key{c.Slot(), contract_stream, c.key.project_index};
  int64_t contract_index = c.fixed.Range(0, c.world.BaseCount(contract_key) - 1);
  VendorRef v = RandomVendor(c, c.fixed);
  w.BeginObject();
  w.Field("id", r.id);
  w.Field("number", std::to_string(r.index + 1));
  w.Field("revision", static_cast<int64_t>(r.revision));
  w.Field("title",
          std::string(pools::ChangeEventTitles()[c.fixed.Next() % pools::ChangeEventTitles().size()]));
  w.Field("status", status);
  w.Field("executed", status == "approved");
  w.Field("contract_id", c.world.IdFor(contract_key, contract_index));
  w.Key("contract");
  w.BeginObject();
  w.Field("id", c.world.IdFor(contract_key, contract_index));
  w.Field("number", Padded(prime ? "PC-" : "SC-", contract_index + 1, 3));
  w.EndObject();
  if (!prime) {
    w.Key("vendor");
    w.BeginObject();
    w.Field("id", v.id);
    w.Field("name", v.name);
    w.EndObject();
  }
  w.Field("grand_total", Money(c.rev, -20'000, 180'000));
  w.Field("description", "Change order for " + c.ProjectTitle() + ".");
  w.Field("due_date", DateOf(r.created_at_ms + c.fixed.Range(7, 30) * kDayMs));
  w.Field("invoiced_date", DateOf(r.created_at_ms + 35 * kDayMs));
  w.Field("paid_in_full", false);
  w.Field("schedule_impact_amount", c.rev.Range(0, 20));
  w.Field("signature_required", c.fixed.Chance(0.5));
  w.Field("private", false);
  WriteUser(w, "created_by", RandomUser(c, c.fixed));
  WriteTimestamps(w, r, false);
  w.EndObject();
}

void WritePrimeContract(JsonWriter& w, Ctx& c) {
  const RecordState& r = c.r;
  static constexpr std::string_view kStatuses[] = {"Draft",    "Out For Bid", "Out For Signature",
                                                   "Approved", "Complete",    "Terminated"};
  std::string_view status = kStatuses[c.rev.Next() % 6];
  std::string total = Money(c.fixed, 2'000'000, 90'000'000);
  int64_t contract_ms = r.created_at_ms + c.fixed.Range(1, 20) * kDayMs;
  UserRef architect = RandomUser(c, c.fixed);
  w.BeginObject();
  w.Field("id", r.id);
  w.Field("number", Padded("PC-", r.index + 1, 3));
  w.Field("title", "Prime Contract – " + c.ProjectTitle());
  w.Field("status", status);
  w.Field("executed", status == "Approved" || status == "Complete");
  w.Field("accounting_method", "amount");
  w.Field("grand_total", total);
  w.Field("revised_contract", total);
  w.Field("approved_change_orders", Money(c.rev, 0, 900'000));
  w.Field("pending_change_orders", Money(c.rev, 0, 300'000));
  w.Field("retainage_percent", "10.00");
  w.Field("description", "Owner–contractor agreement (AIA A101).");
  w.Field("inclusions", "General conditions, fee and insurance.");
  w.Field("exclusions", "Hazardous material abatement.");
  w.Field("private", false);
  w.Field("show_line_items_to_non_admins", true);
  w.Field("contract_date", DateOf(contract_ms));
  w.Field("execution_date", DateOf(contract_ms + 2 * kDayMs));
  w.Field("contract_start_date", DateOf(contract_ms + 10 * kDayMs));
  w.Field("contract_estimated_completion_date", DateOf(contract_ms + c.fixed.Range(300, 900) * kDayMs));
  w.FieldNull("actual_completion_date");
  w.FieldNull("contract_termination_date");
  w.Field("issued_on_date", DateOf(contract_ms));
  w.FieldNull("letter_of_intent_date");
  w.FieldNull("approval_letter_date");
  w.FieldNull("returned_date");
  w.Field("signed_contract_received_date", DateOf(contract_ms + 4 * kDayMs));
  WriteUser(w, "architect", architect);
  w.Key("contractor");
  w.BeginObject();
  w.Field("id", c.Company().id);
  w.Field("name", c.Company().name);
  w.EndObject();
  VendorRef owner = RandomVendor(c, c.fixed);
  w.Key("vendor");
  w.BeginObject();
  w.Field("id", owner.id);
  w.Field("name", owner.name);
  w.EndObject();
  WriteUser(w, "created_by", RandomUser(c, c.fixed));
  w.Key("attachments");
  w.BeginArray();
  w.EndArray();
  WriteCurrency(w);
  WriteOrigin(w);
  WriteTimestamps(w, r, true);
  w.EndObject();
}

void WriteChangeEvent(JsonWriter& w, Ctx& c) {
  const RecordState& r = c.r;
  static constexpr std::string_view kStatuses[] = {"Open", "Pending", "Closed", "Void"};
  int64_t status = c.rev.Range(0, 3);
  std::string_view title = pools::ChangeEventTitles()[c.fixed.Next() % pools::ChangeEventTitles().size()];
  std::string_view reason = pools::ChangeReasons()[c.fixed.Next() % pools::ChangeReasons().size()];
  w.BeginObject();
  w.Field("id", r.id);
  w.Field("number", Padded("", r.index + 1, 3));
  w.Field("title", title);
  w.Field("description", std::string(title) + " — see attached backup.");
  static constexpr std::string_view kScopes[] = {"in_scope", "out_of_scope", "tbd"};
  w.Field("scope", kScopes[c.rev.Next() % 3]);
  w.Field("project_id", c.ProjectId());
  w.Field("company_id", c.Company().id);
  w.Key("status");
  w.BeginObject();
  w.Field("id", SmallId(c, 940, status));
  w.Field("name", kStatuses[status]);
  w.Field("mapped_to_status", kt::ToLower(kStatuses[status]));
  w.EndObject();
  w.FieldNull("event_origin");
  w.Key("change_type");
  w.BeginObject();
  w.Field("id", SmallId(c, 941, r.index % 3));
  w.Field("name", r.index % 3 == 0 ? "Allowance" : r.index % 3 == 1 ? "Contingency" : "Owner Change");
  w.Field("abbreviation", r.index % 3 == 0 ? "ALW" : r.index % 3 == 1 ? "CNT" : "OC");
  w.EndObject();
  w.Key("change_reason");
  w.BeginObject();
  w.Field("id", SmallId(c, 942, static_cast<int64_t>(reason.size())));
  w.Field("change_reason", reason);
  w.EndObject();
  w.FieldNull("prime_contract_for_estimates");
  w.Field("comments_enabled", true);
  w.Field("deletable", true);
  w.Field("in_recycle_bin", r.deleted_at_ms != 0);
  w.Key("external_data");
  w.BeginObject();
  w.FieldNull("origin_id");
  w.FieldNull("origin_data");
  w.EndObject();
  WriteUser(w, "created_by", RandomUser(c, c.fixed));
  w.Key("attachments");
  w.BeginArray();
  w.EndArray();
  w.Key("custom_fields");
  w.BeginObject();
  w.EndObject();
  w.Key("change_items");
  w.BeginArray();
  int64_t items = c.fixed.Range(1, 3);
  for (int64_t i = 0; i < items; ++i) {
    int64_t cc = RandomCostCodeIndex(c, c.fixed);
    w.BeginObject();
    w.Field("id", r.id * 4 + i);
    w.Field("event_id", r.id);
    w.Field("event_number", Padded("", r.index + 1, 3));
    w.Field("event_title", title);
    w.Field("item_type", "change_event_line_item");
    w.Field("description", CostCodeOf(cc).name);
    w.Key("budget_code");
    w.BeginObject();
    w.Field("id", CostCodeId(c, cc));
    w.Field("name", CostCodeOf(cc).code + " - " + CostCodeOf(cc).name);
    w.EndObject();
    w.Key("cost_impact");
    w.BeginObject();
    w.Field("value", Money(c.rev, 500, 60'000));
    w.Field("type", "manual");
    w.EndObject();
    w.Key("revenue_impact");
    w.BeginObject();
    w.Field("value", Money(c.rev, 500, 70'000));
    w.Field("type", "match_latest_cost");
    w.EndObject();
    w.Field("deletable", true);
    w.Field("editable", true);
    w.FieldNull("notes");
    w.FieldNull("deleted_at");
    w.Field("created_at", TimeOf(r.created_at_ms));
    w.Field("updated_at", TimeOf(r.updated_at_ms));
    w.EndObject();
  }
  w.EndArray();
  w.Key("markup_items");
  w.BeginArray();
  w.EndArray();
  w.Key("production_quantities");
  w.BeginArray();
  w.EndArray();
  WriteCurrency(w);
  WriteTimestamps(w, r, true);
  w.EndObject();
}

void WriteDirectCost(JsonWriter& w, Ctx& c) {
  const RecordState& r = c.r;
  static constexpr std::string_view kTypes[] = {"invoice", "expense", "payroll"};
  static constexpr std::string_view kStatuses[] = {"draft", "pending", "revise_and_resubmit", "approved"};
  std::string_view type = kTypes[c.fixed.Next() % 3];
  VendorRef v = RandomVendor(c, c.fixed);
  std::string amount = Money(c.rev, 50, 85'000);
  int64_t date_ms = r.created_at_ms;
  w.BeginObject();
  w.Field("id", r.id);
  w.Field("direct_cost_type", type);
  w.Field("direct_cost_date", DateOf(date_ms));
  w.Field("status", kStatuses[c.rev.Next() % 4]);
  w.Field("description", std::string(pools::CostCodeNames()[c.fixed.Next() % pools::CostCodeNames().size()]) +
                             " – " + std::string(type));
  w.Field("amount", amount);
  w.Field("grand_total", amount);
  w.FieldOrNull("invoice_number", type == "invoice" ? Padded("INV-", c.fixed.Range(1000, 999999), 6) : "");
  w.Field("terms", "Net 30");
  w.Field("payment_date", DateOf(date_ms + 30 * kDayMs));
  w.Field("received_date", DateOf(date_ms + 2 * kDayMs));
  w.Field("vendor", v.name);
  w.Field("vendor_id", v.id);
  w.Field("vendor_name", v.name);
  if (type == "payroll") {
    UserRef e = RandomUser(c, c.fixed);
    w.Key("employee");
    w.BeginObject();
    w.Field("id", e.id);
    w.Field("name", e.name);
    w.EndObject();
  } else {
    w.FieldNull("employee");
  }
  WriteCurrency(w);
  w.FieldNull("origin_id");
  w.FieldNull("origin_data");
  WriteTimestamps(w, r, true);
  w.EndObject();
}

void WriteRfi(JsonWriter& w, Ctx& c) {
  const RecordState& r = c.r;
  static constexpr std::string_view kStatuses[] = {"open", "open", "closed", "draft"};
  std::string_view status = kStatuses[c.rev.Next() % 4];
  std::string subject = std::string(pools::RfiSubjects()[c.fixed.Next() % pools::RfiSubjects().size()]) +
                        " " + std::string(pools::Locations()[c.fixed.Next() % pools::Locations().size()]);
  UserRef manager = RandomUser(c, c.fixed), assignee = RandomUser(c, c.rev), author = RandomUser(c, c.fixed);
  VendorRef contractor = RandomVendor(c, c.fixed);
  w.BeginObject();
  w.Field("id", r.id);
  w.Field("number", std::to_string(r.index + 1));
  w.Field("full_number", std::to_string(r.index + 1));
  w.Field("subject", subject);
  w.Field("status", status);
  w.Field("draft", status == "draft");
  w.Field("private", false);
  w.Field("due_date", DateOf(r.created_at_ms + c.fixed.Range(5, 21) * kDayMs));
  w.Field("initiated_at", TimeOf(r.created_at_ms));
  if (status == "closed")
    w.Field("time_resolved", TimeOf(r.updated_at_ms));
  else
    w.FieldNull("time_resolved");
  w.Key("assignees");
  w.BeginArray();
  w.BeginObject();
  w.Field("id", assignee.id);
  w.Field("login", assignee.login);
  w.Field("name", assignee.name);
  w.EndObject();
  w.EndArray();
  w.Key("ball_in_court");
  w.BeginArray();
  if (status != "closed") {
    w.BeginObject();
    w.Field("id", assignee.id);
    w.Field("login", assignee.login);
    w.Field("name", assignee.name);
    w.EndObject();
  }
  w.EndArray();
  WriteUser(w, "rfi_manager", manager);
  WriteUser(w, "received_from", author);
  WriteUser(w, "created_by", author);
  w.Key("responsible_contractor");
  w.BeginObject();
  w.Field("id", contractor.id);
  w.Field("name", contractor.name);
  w.EndObject();
  static constexpr std::string_view kImpacts[] = {"yes_known", "yes_unknown", "no_impact", "tbd"};
  w.Key("cost_impact");
  w.BeginObject();
  w.Field("status", kImpacts[c.rev.Next() % 4]);
  w.Field("value", c.rev.Range(0, 25'000));
  w.EndObject();
  w.Key("schedule_impact");
  w.BeginObject();
  w.Field("status", kImpacts[c.rev.Next() % 4]);
  w.Field("value", c.rev.Range(0, 15));
  w.EndObject();
  WriteLocation(w, c, c.fixed);
  w.FieldNull("cost_code");
  w.FieldNull("specification_section");
  w.FieldNull("reference");
  w.Key("questions");
  w.BeginArray();
  w.BeginObject();
  w.Field("id", r.id * 2);
  std::string body =
      "Please advise: " + subject + ". Reference sheet A-" + std::to_string(c.fixed.Range(100, 599)) + ".";
  w.Field("body", "<p>" + body + "</p>");
  w.Field("plain_text_body", body);
  w.Field("created_at", TimeOf(r.created_at_ms));
  WriteUser(w, "created_by", author);
  w.Key("answers");
  w.BeginArray();
  if (status == "closed") {
    w.BeginObject();
    w.Field("id", r.id * 2 + 1);
    w.Field("body", "<p>Proceed per the revised detail.</p>");
    w.Field("plain_text_body", "Proceed per the revised detail.");
    w.Field("official", true);
    w.Field("created_at", TimeOf(r.updated_at_ms));
    WriteUser(w, "created_by", manager);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  w.EndArray();
  WriteTimestamps(w, r, true);
  w.EndObject();
}

void WriteSubmittal(JsonWriter& w, Ctx& c) {
  const RecordState& r = c.r;
  static constexpr std::string_view kStatuses[] = {"Draft", "Open", "Open", "Closed", "Approved"};
  static constexpr std::string_view kTypes[] = {"Shop Drawing", "Product Data", "Sample", "Mockup",
                                                "Warranty"};
  int64_t st = c.rev.Range(0, 4);
  int64_t ty = c.fixed.Range(0, 4);
  std::string_view title = pools::SubmittalTitles()[c.fixed.Next() % pools::SubmittalTitles().size()];
  const Division& div = pools::Divisions()[c.fixed.Next() % pools::Divisions().size()];
  std::string spec = std::string(div.code) + " " + std::to_string(c.fixed.Range(10, 99)) + " 00";
  UserRef manager = RandomUser(c, c.fixed), approver = RandomUser(c, c.rev);
  VendorRef contractor = RandomVendor(c, c.fixed);
  std::string number = std::to_string(r.index + 1);
  w.BeginObject();
  w.Field("id", r.id);
  w.Field("number", number);
  w.Field("formatted_number", spec + "-" + number);
  w.Field("title", title);
  w.Field("description", std::string(title) + " for " + c.ProjectTitle() + ".");
  w.Field("revision", std::to_string(r.revision));
  w.Field("current_revision", true);
  w.Field("private", false);
  w.Field("due_date", DateOf(r.created_at_ms + c.fixed.Range(10, 40) * kDayMs));
  w.Field("issue_date", DateOf(r.created_at_ms));
  w.Field("received_date", DateOf(r.created_at_ms + c.fixed.Range(1, 9) * kDayMs));
  w.Field("submit_by", DateOf(r.created_at_ms + c.fixed.Range(5, 15) * kDayMs));
  w.FieldNull("actual_delivery_date");
  w.Field("required_on_site_date", DateOf(r.created_at_ms + c.fixed.Range(40, 120) * kDayMs));
  if (st >= 3)
    w.Field("distributed_at", TimeOf(r.updated_at_ms));
  else
    w.FieldNull("distributed_at");
  if (st == 3)
    w.Field("closed_at", TimeOf(r.updated_at_ms));
  else
    w.FieldNull("closed_at");
  w.FieldNull("submittal_workflow_template_applied_at");
  w.Field("lead_time", c.fixed.Range(5, 60));
  w.FieldNull("location_id");
  w.Field("cost_code_id", CostCodeId(c, RandomCostCodeIndex(c, c.fixed)));
  w.FieldNull("sub_job_id");
  auto id_name = [&](std::string_view key, int64_t id, std::string_view name) {
    w.Key(key);
    w.BeginObject();
    w.Field("id", id);
    w.Field("name", name);
    w.EndObject();
  };
  id_name("created_by", manager.id, manager.name);
  id_name("received_from", contractor.id, contractor.name);
  id_name("submittal_manager", manager.id, manager.name);
  id_name("responsible_contractor", contractor.id, contractor.name);
  w.Key("distribution_members");
  w.BeginArray();
  w.EndArray();
  w.Key("ball_in_court");
  w.BeginArray();
  if (st != 3) {
    w.BeginObject();
    w.Field("id", approver.id);
    w.Field("name", approver.name);
    w.FieldNull("initials");
    w.FieldNull("vendor");
    w.EndObject();
  }
  w.EndArray();
  w.Key("status");
  w.BeginObject();
  w.Field("id", SmallId(c, 950, st));
  w.Field("name", kStatuses[st]);
  w.Field("status", kStatuses[st]);
  w.EndObject();
  w.Key("type");
  w.BeginObject();
  w.Field("id", SmallId(c, 951, ty));
  w.Field("name", kTypes[ty]);
  w.Field("translated_name", kTypes[ty]);
  w.EndObject();
  w.Key("specification_section");
  w.BeginObject();
  w.Field("id", SmallId(c, 952, std::stoi(std::string(div.code))));
  w.Field("number", spec);
  w.Field("description", div.name);
  w.Field("label", spec + " - " + std::string(div.name));
  w.Field("current_revision_id", SmallId(c, 953, std::stoi(std::string(div.code))));
  w.EndObject();
  w.FieldNull("submittal_workflow_template");
  w.Key("drawing_ids");
  w.BeginArray();
  w.EndArray();
  w.Key("linked_drawing_ids");
  w.BeginArray();
  w.EndArray();
  w.Key("associated_attachments");
  w.BeginArray();
  w.EndArray();
  w.Key("approvers");
  w.BeginArray();
  w.BeginObject();
  w.Field("id", approver.id * 3 + r.index);
  w.Field("approver_type", "Approver");
  w.Field("response_required", true);
  w.Key("user");
  w.BeginObject();
  w.Field("id", approver.id);
  w.Field("name", approver.name);
  w.EndObject();
  w.EndObject();
  w.EndArray();
  w.FieldNull("last_distributed_submittal");
  w.FieldNull("submittal_package");
  w.FieldNull("scheduled_task");
  w.Key("custom_fields");
  w.BeginObject();
  w.EndObject();
  WriteTimestamps(w, r, false);
  w.EndObject();
}

void WriteManpowerLog(JsonWriter& w, Ctx& c) {
  const RecordState& r = c.r;
  VendorRef v = RandomVendor(c, c.fixed);
  int64_t workers = c.rev.Range(1, 24);
  int64_t hours = c.rev.Range(4, 10);
  int64_t cc = RandomCostCodeIndex(c, c.fixed);
  int64_t trade = c.fixed.Range(0, c.world.BaseCount({c.Slot(), Stream::kTrades, -1}) - 1);
  UserRef author = RandomUser(c, c.fixed);
  w.BeginObject();
  w.Field("id", r.id);
  w.Field("date", DateOf(r.created_at_ms));
  w.Field("datetime", DateOf(r.created_at_ms) + "T12:00:00Z");
  w.Field("num_workers", workers);
  w.Field("num_hours", Fixed2(static_cast<double>(hours)));
  w.Field("man_hours", Fixed2(static_cast<double>(workers * hours)));
  w.Field("notes", pools::Notes()[c.rev.Next() % pools::Notes().size()]);
  w.Field("position", static_cast<int64_t>(r.index % 12) + 1);
  w.Field("status", c.rev.Chance(0.8) ? "approved" : "pending");
  w.Key("vendor");
  w.BeginObject();
  w.Field("id", v.id);
  w.Field("name", v.name);
  w.EndObject();
  w.FieldNull("user");
  w.FieldNull("contact");
  w.Key("cost_code");
  w.BeginObject();
  w.Field("id", CostCodeId(c, cc));
  w.Field("name", CostCodeOf(cc).name);
  w.EndObject();
  WriteUser(w, "created_by", author);
  WriteLocation(w, c, c.fixed);
  w.Key("attachments");
  w.BeginArray();
  w.EndArray();
  w.Key("trade");
  w.BeginObject();
  w.Field("id", c.world.IdFor({c.Slot(), Stream::kTrades, -1}, trade));
  w.Field("name", TradeName(trade));
  w.Field("active", true);
  w.Field("updated_at", TimeOf(World::kBaseStartMs));
  w.EndObject();
  w.Key("custom_fields");
  w.BeginObject();
  w.EndObject();
  w.Key("permissions");
  w.BeginObject();
  w.Field("can_update", false);
  w.Field("can_delete", false);
  w.EndObject();
  WriteTimestamps(w, r, false);
  w.EndObject();
}

}  // namespace

namespace {
// Record pages format many timestamps; this is kt::FormatIso8601 without gmtime_r and snprintf.
void FormatUtc(int64_t unix_ms, char* out, bool with_time) {
  int64_t secs = unix_ms >= 0 ? unix_ms / 1000 : (unix_ms - 999) / 1000;
  int64_t days = secs >= 0 ? secs / 86400 : (secs - 86399) / 86400;
  int64_t rem = secs - days * 86400;
  // Civil from days (Howard Hinnant's algorithm).
  days += 719468;
  const int64_t era = (days >= 0 ? days : days - 146096) / 146097;
  const int64_t doe = days - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t y = yoe + era * 400;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  const int64_t d = doy - (153 * mp + 2) / 5 + 1;
  const int64_t m = mp < 10 ? mp + 3 : mp - 9;
  y += m <= 2;
  auto two = [](char* p, int64_t v) {
    p[0] = static_cast<char>('0' + v / 10);
    p[1] = static_cast<char>('0' + v % 10);
  };
  two(out, y / 100);
  two(out + 2, y % 100);
  out[4] = '-';
  two(out + 5, m);
  out[7] = '-';
  two(out + 8, d);
  if (!with_time) return;
  out[10] = 'T';
  two(out + 11, rem / 3600);
  out[13] = ':';
  two(out + 14, rem % 3600 / 60);
  out[16] = ':';
  two(out + 17, rem % 60);
  out[19] = 'Z';
}
}  // namespace

std::string DateOf(int64_t unix_ms) {
  char buf[10];
  FormatUtc(unix_ms, buf, false);
  return std::string(buf, 10);
}

std::string TimeOf(int64_t unix_ms) {
  char buf[20];
  FormatUtc(unix_ms, buf, true);
  return std::string(buf, 20);
}

int64_t BudgetViewId(const World& world, int company_slot, int project_index) {
  // Budget views are not a stream; they borrow an id group beyond the sixteen streams.
  return world.IdFor({company_slot, static_cast<Stream>(20), project_index}, 0);
}

void WriteRecord(JsonWriter& w, const World& world, const StreamKey& key, const RecordState& record,
                 RecordView view) {
  Ctx c = MakeCtx(world, key, record);
  switch (key.stream) {
    case Stream::kProjects:
      WriteProject(w, c, view);
      break;
    case Stream::kCompanyUsers:
      WriteCompanyUser(w, c);
      break;
    case Stream::kVendors:
      WriteVendor(w, c);
      break;
    case Stream::kTrades:
      WriteTrade(w, c);
      break;
    case Stream::kCostCodes:
      WriteCostCode(w, c);
      break;
    case Stream::kBudgetDetailRows:
      WriteBudgetDetailRow(w, c);
      break;
    case Stream::kWorkOrderContracts:
      WriteCommitment(w, c, false);
      break;
    case Stream::kPurchaseOrderContracts:
      WriteCommitment(w, c, true);
      break;
    case Stream::kCommitmentChangeOrders:
      WriteChangeOrder(w, c, false);
      break;
    case Stream::kPrimeContracts:
      WritePrimeContract(w, c);
      break;
    case Stream::kPrimeChangeOrders:
      WriteChangeOrder(w, c, true);
      break;
    case Stream::kChangeEvents:
      WriteChangeEvent(w, c);
      break;
    case Stream::kDirectCosts:
      WriteDirectCost(w, c);
      break;
    case Stream::kRfis:
      WriteRfi(w, c);
      break;
    case Stream::kSubmittals:
      WriteSubmittal(w, c);
      break;
    case Stream::kManpowerLogs:
      WriteManpowerLog(w, c);
      break;
  }
}

std::string SortName(const World& world, const StreamKey& key, const RecordState& record) {
  switch (key.stream) {
    case Stream::kProjects:
      return ProjectName(world.Seed(), key.company_slot, record.index);
    case Stream::kCompanyUsers:
      return PersonLastName(world.Seed(), key.company_slot, record.index) + " " +
             PersonFirstName(world.Seed(), key.company_slot, record.index);
    case Stream::kVendors:
      return VendorName(world.Seed(), key.company_slot, record.index);
    case Stream::kTrades:
      return TradeName(record.index);
    default:
      return std::to_string(record.id);
  }
}

}  // namespace procore_emulator
