// The control API under /_emulator (interfaces.md): reset, apps, installs, tools, faults, changes, truth,
// stats.
#include <algorithm>
#include <cctype>

#include "emulator/emulator.h"
#include "emulator/rest_support.h"
#include "util/strings.h"

namespace procore_emulator {

using kt::http::Request;
using kt::http::Response;

namespace {

Response ControlError(int status, std::string code, std::string message, std::string fix = {}) {
  return Response::Json(
      status,
      {{"error", {{"code", std::move(code)}, {"message", std::move(message)}, {"fix", std::move(fix)}}}});
}

kt::Result<nlohmann::json> BodyObject(const Request& req) {
  if (kt::Trim(req.body).empty()) return nlohmann::json::object();
  auto json = nlohmann::json::parse(req.body, nullptr, false);
  if (json.is_discarded() || !json.is_object())
    return kt::Fail(kt::ErrorKind::kInvalidInput, "invalid_json", "the body must be a JSON object");
  return json;
}

nlohmann::json InstallJson(int64_t company_id, const Install& install) {
  nlohmann::json company = nlohmann::json::object(), project = nlohmann::json::object();
  for (const auto& [tool, level] : install.company_tools) company[tool] = LevelKey(level);
  for (const auto& [tool, level] : install.project_tools) project[tool] = LevelKey(level);
  nlohmann::json permitted =
      install.all_projects ? nlohmann::json("all") : nlohmann::json(install.permitted_projects);
  return {{"company_id", company_id},
          {"client_id", install.client_id},
          {"permissions", {{"company", company}, {"project", project}}},
          {"permitted_projects", permitted}};
}

}  // namespace

void Emulator::AddControlRoutes(kt::http::Router& router) {
  router.Post("/_emulator/reset", [this](Request& req) {
    auto body = BodyObject(req);
    if (!body) return ControlError(400, "invalid_json", body.error().message);
    Preset preset;
    uint64_t seed;
    {
      std::shared_lock lock(mu_);
      preset = options_.preset;
      seed = options_.seed;
    }
    if (body->contains("preset")) {
      auto p =
          (*body)["preset"].is_string() ? ParsePreset((*body)["preset"].get<std::string>()) : std::nullopt;
      if (!p) return ControlError(400, "invalid_preset", "preset must be small, demo or large");
      preset = *p;
    }
    if (body->contains("seed")) {
      if (!(*body)["seed"].is_number_integer())
        return ControlError(400, "invalid_seed", "seed must be an integer");
      seed = (*body)["seed"].get<uint64_t>();
    }
    return Response::Json(200, Reset(preset, seed));
  });

  router.Post("/_emulator/apps", [this](Request& req) {
    auto body = BodyObject(req);
    if (!body) return ControlError(400, "invalid_json", body.error().message);
    for (const char* field : {"name", "kind", "client_id", "client_secret"}) {
      if (body->contains(field) && !(*body)[field].is_string())
        return ControlError(400, "invalid_app", std::string(field) + " must be a string",
                            "send {\"name\": \"My App\", \"kind\": \"dmsa\"}");
    }
    std::string name = body->value("name", std::string("Custom App"));
    std::string kind = body->value("kind", std::string("dmsa"));
    if (kind != "dmsa" && kind != "legacy_service_account")
      return ControlError(400, "invalid_kind", "kind must be \"dmsa\" or \"legacy_service_account\"");
    // Given credentials (a demo's app registered again after a restart): both or neither, and shaped as
    // Procore's are.
    std::string client_id = body->value("client_id", std::string());
    std::string client_secret = body->value("client_secret", std::string());
    if (client_id.empty() != client_secret.empty())
      return ControlError(400, "invalid_app", "client_id and client_secret go together",
                          "send both, or neither for new credentials");
    for (const std::string* value : {&client_id, &client_secret}) {
      const bool shaped =
          value->empty() || (value->size() >= 16 && value->size() <= 128 &&
                             std::all_of(value->begin(), value->end(), [](char c) {
                               return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
                             }));
      if (!shaped)
        return ControlError(400, "invalid_app",
                            (value == &client_id ? "client_id" : "client_secret") +
                                std::string(" must be 16 to 128 letters, digits, '-' or '_'"),
                            "send the credentials an earlier POST /_emulator/apps answered");
    }
    std::unique_lock lock(mu_);
    if (!client_id.empty() && access_.FindApp(client_id))
      return ControlError(409, "app_exists", "an app with this client_id exists",
                          "use it as it is, or reset the emulator first");
    const App& app =
        access_.CreateApp(name, kind == "legacy_service_account", AppUserId(access_.Apps().size()),
                          clock_.NowMs(), std::move(client_id), std::move(client_secret));
    return Response::Json(200, {{"client_id", app.client_id},
                                {"client_secret", app.client_secret},
                                {"app_version_key", app.app_version_key},
                                {"name", app.name},
                                {"kind", kind},
                                {"user_id", app.user_id}});
  });

  router.Get("/_emulator/apps", [this](Request&) {
    std::shared_lock lock(mu_);
    nlohmann::json apps = nlohmann::json::array();
    for (const auto& app : access_.Apps())
      apps.push_back({{"client_id", app.client_id},
                      {"app_version_key", app.app_version_key},
                      {"name", app.name},
                      {"kind", app.legacy_service_account ? "legacy_service_account" : "dmsa"},
                      {"user_id", app.user_id}});
    return Response::Json(200, apps);
  });

  router.Post("/_emulator/apps/{client_id}/secret", [this](Request& req) {
    std::unique_lock lock(mu_);
    const std::string client_id = req.PathParam("client_id");
    const App* app = access_.RegenerateSecret(client_id);
    if (!app) return ControlError(404, "app_not_found", "no app " + client_id);
    return Response::Json(200, {{"client_id", app->client_id}, {"client_secret", app->client_secret}});
  });

  router.Get("/_emulator/apps/{client_id}/tokens", [this](Request& req) {
    std::shared_lock lock(mu_);
    const std::string client_id = req.PathParam("client_id");
    if (!access_.FindApp(client_id)) return ControlError(404, "app_not_found", "no app " + client_id);
    return Response::Json(200, {{"tokens", access_.TokensOf(client_id)}});
  });

  auto company_of = [](const Request& req) { return kt::ParseInt64(req.PathParam("company_id")); };
  // The slot of the path's company, or -1 when the preset has no such company.
  auto slot_of = [this, company_of](const Request& req) {
    auto company_id = company_of(req);
    std::shared_lock lock(mu_);
    const CompanyData* company = company_id ? world_->FindCompany(*company_id) : nullptr;
    return company ? company->slot : -1;
  };

  router.Post("/_emulator/companies/{company_id}/installs", [this, company_of](Request& req) {
    auto body = BodyObject(req);
    if (!body) return ControlError(400, "invalid_json", body.error().message);
    auto company_id = company_of(req);
    if (!company_id) return ControlError(404, "company_not_found", "company_id must be a company id");
    std::unique_lock lock(mu_);
    auto status = ApplyInstall(*company_id, *body, true);
    if (!status) return Response::FromError(status.error());
    return Response::Json(
        201,
        InstallJson(*company_id, *access_.FindInstall(*company_id, (*body)["client_id"].get<std::string>())));
  });

  router.Patch("/_emulator/companies/{company_id}/installs/{client_id}", [this, company_of](Request& req) {
    auto body = BodyObject(req);
    if (!body) return ControlError(400, "invalid_json", body.error().message);
    auto company_id = company_of(req);
    if (!company_id) return ControlError(404, "company_not_found", "company_id must be a company id");
    (*body)["client_id"] = req.PathParam("client_id");
    std::unique_lock lock(mu_);
    auto status = ApplyInstall(*company_id, *body, false);
    if (!status) return Response::FromError(status.error());
    return Response::Json(
        200, InstallJson(*company_id, *access_.FindInstall(*company_id, req.PathParam("client_id"))));
  });

  router.Delete("/_emulator/companies/{company_id}/installs/{client_id}", [this, company_of](Request& req) {
    auto company_id = company_of(req);
    std::unique_lock lock(mu_);
    if (!company_id || !access_.RemoveInstall(*company_id, req.PathParam("client_id")))
      return ControlError(404, "install_not_found", "the app is not installed in this company");
    return Response::Json(200, {{"uninstalled", true}});
  });

  router.Get("/_emulator/companies/{company_id}/installs", [this, company_of](Request& req) {
    auto company_id = company_of(req);
    std::shared_lock lock(mu_);
    nlohmann::json out = nlohmann::json::array();
    if (company_id)
      for (const Install* install : access_.InstallsOf(*company_id))
        out.push_back(InstallJson(*company_id, *install));
    return Response::Json(200, out);
  });

  router.Put("/_emulator/projects/{project_id}/tools/{tool}", [this](Request& req) {
    auto body = BodyObject(req);
    if (!body) return ControlError(400, "invalid_json", body.error().message);
    if (!body->contains("active") || !(*body)["active"].is_boolean())
      return ControlError(400, "invalid_body", "the body must be {\"active\": true|false}");
    std::string tool = req.PathParam("tool");
    const ToolInfo* info = FindTool(tool);
    if (!info || !info->project_scope)
      return ControlError(404, "tool_not_found", "\"" + tool + "\" is not a project tool",
                          "use a tool name of the permissions matrix, e.g. RFIs or Daily Log");
    auto project_id = kt::ParseInt64(req.PathParam("project_id"));
    std::unique_lock lock(mu_);
    if (!project_id || !world_->FindProject(*project_id))
      return ControlError(404, "project_not_found", "no project " + req.PathParam("project_id"));
    access_.SetToolActive(*project_id, info->name, (*body)["active"].get<bool>());
    return Response::Json(200,
                          {{"project_id", *project_id}, {"tool", info->name}, {"active", (*body)["active"]}});
  });

  router.Put("/_emulator/faults", [this](Request& req) {
    auto body = BodyObject(req);
    if (!body) return ControlError(400, "invalid_json", body.error().message);
    std::unique_lock lock(mu_);
    Faults f = faults_;
    RateLimits limits = rate_.Limits();
    try {
      auto rate_in = [](const nlohmann::json& v, const char* name) {
        if (!v.is_number()) throw std::invalid_argument(std::string(name) + " must be a number");
        double d = v.get<double>();
        if (d < 0 || d > 1) throw std::invalid_argument(std::string(name) + " must be between 0 and 1");
        return d;
      };
      // Whole numbers in a range: a huge one would overflow the emulated clock's arithmetic or stall every
      // request (latency), a fraction would be cut silently.
      auto int_in = [](const nlohmann::json& v, const std::string& name, int64_t lo, int64_t hi) {
        if (!v.is_number_integer() || v.get<int64_t>() < lo || v.get<int64_t>() > hi)
          throw std::invalid_argument(name + " must be a whole number from " + std::to_string(lo) + " to " +
                                      std::to_string(hi));
        return v.get<int64_t>();
      };
      if (body->contains("latency_ms"))
        f.latency_ms = int_in((*body)["latency_ms"], "latency_ms", 0, 600'000);
      if (body->contains("error_rate")) f.error_rate = rate_in((*body)["error_rate"], "error_rate");
      if (body->contains("timeout_rate")) f.timeout_rate = rate_in((*body)["timeout_rate"], "timeout_rate");
      if (body->contains("throttle_rate"))
        f.throttle_rate = rate_in((*body)["throttle_rate"], "throttle_rate");
      if (body->contains("unavailable_rate"))
        f.unavailable_rate = rate_in((*body)["unavailable_rate"], "unavailable_rate");
      if (body->contains("retry_after_s"))
        f.retry_after_s = int_in((*body)["retry_after_s"], "retry_after_s", 0, 86'400);
      if (body->contains("webhook_reorder_rate"))
        f.webhook_reorder_rate = rate_in((*body)["webhook_reorder_rate"], "webhook_reorder_rate");
      if (body->contains("webhook_duplicate_rate"))
        f.webhook_duplicate_rate = rate_in((*body)["webhook_duplicate_rate"], "webhook_duplicate_rate");
      if (body->contains("webhook_failure_rate"))
        f.webhook_failure_rate = rate_in((*body)["webhook_failure_rate"], "webhook_failure_rate");
      if (body->contains("token_lifetime_s"))
        f.token_lifetime_s = int_in((*body)["token_lifetime_s"], "token_lifetime_s", 1, 100LL * 365 * 86'400);
      if (body->contains("rate_limit")) {
        const auto& rl = (*body)["rate_limit"];
        if (!rl.is_object())
          throw std::invalid_argument(
              "rate_limit must be an object: {\"hourly\": n, \"spike\": n, \"spike_window_s\": n}");
        if (rl.contains("hourly"))
          limits.hourly = int_in(rl["hourly"], "rate_limit.hourly", 0, 1'000'000'000);
        if (rl.contains("spike")) limits.spike = int_in(rl["spike"], "rate_limit.spike", 0, 1'000'000'000);
        if (rl.contains("spike_window_s"))
          limits.spike_window_s = int_in(rl["spike_window_s"], "rate_limit.spike_window_s", 1, 86'400);
      }
    } catch (const std::exception& e) {
      return ControlError(400, "invalid_faults", e.what(),
                          "send numbers: rates between 0 and 1, latency_ms and limits as integers");
    }
    faults_ = f;
    rate_.SetLimits(limits);
    rate_.Reset();
    if (webhooks_)
      webhooks_->SetFaults({f.webhook_duplicate_rate, f.webhook_failure_rate, f.webhook_reorder_rate});
    return Response::Json(200, faults_.ToJson(limits));
  });

  router.Get("/_emulator/faults", [this](Request&) {
    std::shared_lock lock(mu_);
    return Response::Json(200, faults_.ToJson(rate_.Limits()));
  });

  router.Post("/_emulator/companies/{company_id}/projects", [this, slot_of](Request& req) {
    const int slot = slot_of(req);
    if (slot < 0) return ControlError(404, "company_not_found", "no company " + req.PathParam("company_id"));
    auto id = CreateProject(slot);
    if (!id)
      return ControlError(409, "no_room_for_projects", "the company has as many projects as its ids allow",
                          "reset with a preset that has fewer projects");
    return Response::Json(201, {{"id", *id}});
  });

  router.Post("/_emulator/companies/{company_id}/changes", [this, slot_of](Request& req) {
    auto body = BodyObject(req);
    if (!body) return ControlError(400, "invalid_json", body.error().message);
    const int slot = slot_of(req);
    if (slot < 0) return ControlError(404, "company_not_found", "no company " + req.PathParam("company_id"));
    if (!body->contains("count") || !(*body)["count"].is_number_integer() ||
        (*body)["count"].get<int64_t>() < 0 || (*body)["count"].get<int64_t>() > 1'000'000)
      return ControlError(400, "invalid_count", "count must be an integer between 0 and 1000000");
    std::vector<Stream> streams;
    if (body->contains("streams")) {
      if (!(*body)["streams"].is_array())
        return ControlError(400, "invalid_streams", "streams must be an array");
      for (const auto& s : (*body)["streams"]) {
        auto stream = s.is_string() ? StreamFromKey(s.get<std::string>()) : std::nullopt;
        if (!stream)
          return ControlError(400, "invalid_stream", "unknown stream " + s.dump(),
                              "use the stream keys of interfaces.md, e.g. rfis, company_users");
        streams.push_back(*stream);
      }
    }
    uint64_t seed =
        body->contains("seed") && (*body)["seed"].is_number_integer() ? (*body)["seed"].get<uint64_t>() : 0;
    int applied = ApplyChanges(slot, static_cast<int>((*body)["count"].get<int64_t>()), streams, seed);
    return Response::Json(200, {{"applied", applied}});
  });

  router.Get("/_emulator/truth", [this](Request& req) {
    std::shared_lock lock(mu_);
    auto company_id = kt::ParseInt64(req.Query("company_id").value_or(""));
    const CompanyData* company = company_id ? world_->FindCompany(*company_id) : nullptr;
    if (!company)
      return ControlError(404, "company_not_found", "company_id must name a company of the preset");
    std::optional<std::set<int64_t>> visible;
    if (auto client_id = req.Query("client_id")) {
      const Install* install = access_.FindInstall(company->id, *client_id);
      if (!install) return ControlError(404, "install_not_found", "the app is not installed in this company");
      visible = VisibleProjects(*company, *install);
    }
    std::optional<Stream> only_stream;
    if (auto s = req.Query("stream")) {
      only_stream = StreamFromKey(*s);
      if (!only_stream) return ControlError(400, "invalid_stream", "unknown stream " + *s);
    }
    std::optional<int64_t> only_project;
    if (auto p = req.Query("project_id")) only_project = kt::ParseInt64(*p);
    const std::string records_flag = req.Query("records").value_or("false");
    if (records_flag != "true" && records_flag != "false")
      return ControlError(400, "invalid_records", "records must be true or false");
    const bool with_records = records_flag == "true";
    nlohmann::json streams = nlohmann::json::array();
    for (const auto& entry : world_->Truth(company->slot, visible, only_stream, only_project, with_records)) {
      nlohmann::json item = {
          {"stream", Info(entry.stream).key},
          {"project_id", entry.project_id ? nlohmann::json(*entry.project_id) : nlohmann::json()},
          {"count", entry.count},
          {"checksum", entry.checksum}};
      if (with_records) {
        // Each live record's id and updated_at, the lines the checksum is made of.
        nlohmann::json records = nlohmann::json::array();
        for (const auto& line : entry.lines) {
          const size_t colon = line.find(':');
          records.push_back({{"id", kt::ParseInt64(line.substr(0, colon)).value_or(0)},
                             {"updated_at", line.substr(colon + 1)}});
        }
        item["records"] = std::move(records);
      }
      streams.push_back(std::move(item));
    }
    return Response::Json(200, {{"streams", streams}});
  });

  router.Get("/_emulator/stats", [this](Request&) {
    nlohmann::json stats = stats_.ToJson();
    stats["webhook_deliveries"] = webhooks_ ? webhooks_->Stats() : nlohmann::json::object();
    return Response::Json(200, stats);
  });

  router.Post("/_emulator/stats/reset", [this](Request&) {
    stats_.Reset();
    if (webhooks_) webhooks_->ResetStats();
    return Response::Json(200, {{"reset", true}});
  });

  // Not in interfaces.md: moves emulated time forward (token expiry, rate windows) without waiting.
  router.Post("/_emulator/clock/advance", [this](Request& req) {
    auto body = BodyObject(req);
    if (!body || !body->contains("seconds") || !(*body)["seconds"].is_number())
      return ControlError(400, "invalid_body", "the body must be {\"seconds\": number}");
    clock_.Advance(static_cast<int64_t>((*body)["seconds"].get<double>() * 1000));
    return Response::Json(200, {{"now", kt::FormatIso8601(clock_.NowMs())}, {"now_ms", clock_.NowMs()}});
  });

  router.Get("/_emulator/clock", [this](Request&) {
    return Response::Json(200, {{"now", kt::FormatIso8601(clock_.NowMs())},
                                {"now_ms", clock_.NowMs()},
                                {"time_scale", clock_.scale()}});
  });
}

}  // namespace procore_emulator
