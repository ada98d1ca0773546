// The browser UI for the Procore side of KTrack's help article: Company Admin → App Management (install a
// custom app by its version key, edit permitted projects, uninstall) and Directory → the app's user →
// permissions matrix. Server-rendered HTML with plain forms that post back to the emulator.
#include <sstream>

#include "emulator/emulator.h"
#include "emulator/names.h"
#include "util/strings.h"

namespace procore_emulator {

using kt::http::Request;
using kt::http::Response;

namespace {

std::string Esc(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

constexpr const char* kStyle = R"(
body{font-family:-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;margin:0;background:#f4f5f7;color:#232729}
header{background:#232729;color:#fff;padding:12px 24px;display:flex;gap:24px;align-items:center}
header a{color:#fff;text-decoration:none;opacity:.85}header a:hover{opacity:1}
header .brand{font-weight:600;color:#ff5200;opacity:1}
main{max-width:1100px;margin:24px auto;padding:0 24px}
h1{font-size:22px;font-weight:600;margin:0 0 16px}h2{font-size:17px;font-weight:600;margin:24px 0 8px}
.card{background:#fff;border:1px solid #d6dadc;border-radius:6px;padding:16px 20px;margin-bottom:16px}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:6px 10px;border-bottom:1px solid #e8eaeb}
th{font-size:13px;color:#5c6366;font-weight:600}td.c,th.c{text-align:center}
button,.button{background:#ff5200;color:#fff;border:0;border-radius:4px;padding:7px 14px;font-size:14px;cursor:pointer;text-decoration:none;display:inline-block}
button.secondary{background:#fff;color:#232729;border:1px solid #aab0b3}
button.danger{background:#fff;color:#b3261e;border:1px solid #b3261e}
input[type=text]{padding:6px 8px;border:1px solid #aab0b3;border-radius:4px;width:320px}
.note{color:#5c6366;font-size:13px}.flash{background:#e6f4ea;border:1px solid #9bcfa8;padding:8px 12px;border-radius:4px;margin-bottom:16px}
.error{background:#fdecea;border-color:#f3a9a4}.projects{max-height:260px;overflow:auto;border:1px solid #e8eaeb;padding:8px;border-radius:4px}
code{background:#eef0f1;padding:1px 5px;border-radius:3px}
)";

// The company a page's path names ({company_id}), or null when it names none that exists.
const CompanyData* CompanyInPath(const World& world, const Request& req) {
  auto company_id = kt::ParseInt64(req.PathParam("company_id"));
  return company_id ? world.FindCompany(*company_id) : nullptr;
}

std::string Page(const std::string& title, const std::string& body, const Request& req,
                 const std::vector<CompanyData>& companies) {
  std::ostringstream out;
  out << "<!doctype html><html lang=en><head><meta charset=utf-8><title>" << Esc(title)
      << " · Procore (emulated)</title><style>" << kStyle << "</style></head><body><header>"
      << "<a class=brand href=\"/\">Procore <small>emulator</small></a>";
  for (const auto& c : companies) {
    out << "<a href=\"/companies/" << c.id << "/admin/app_management\">" << Esc(c.name)
        << " · App Management</a>";
    out << "<a href=\"/companies/" << c.id << "/directory\">Directory</a>";
  }
  out << "</header><main>";
  if (auto msg = req.Query("msg")) out << "<div class=flash>" << Esc(*msg) << "</div>";
  if (auto err = req.Query("error")) out << "<div class=\"flash error\">" << Esc(*err) << "</div>";
  out << body << "</main></body></html>";
  return out.str();
}

Response Back(const std::string& to, const std::string& key, const std::string& message) {
  return Response::Redirect(to + "?" + key + "=" + kt::UrlEncode(message), 303);
}

}  // namespace

void Emulator::AddUiRoutes(kt::http::Router& router) {
  router.Get("/", [this](Request& req) {
    std::shared_lock lock(mu_);
    std::ostringstream b;
    b << "<h1>Procore (emulated)</h1><div class=card><p>Preset <code>" << PresetName(world_->CurrentPreset())
      << "</code>, seed <code>" << world_->Seed()
      << "</code>. This is the Procore side of the help article: install the custom app in App Management, "
         "then "
         "give its service account the tool permissions in the "
         "Directory.</p><table><tr><th>Company</th><th>Id</th>"
         "<th>Projects</th><th></th></tr>";
    for (const auto& c : world_->Companies())
      b << "<tr><td>" << Esc(c.name) << "</td><td>" << c.id << "</td><td>" << world_->ProjectCount(c.slot)
        << "</td><td><a href=\"/companies/" << c.id
        << "/admin/app_management\">Company Admin → App Management</a>"
        << " · <a href=\"/companies/" << c.id << "/directory\">Directory</a></td></tr>";
    b << "</table></div><div class=card><h2>Apps registered in the Developer "
         "Portal</h2><table><tr><th>Name</th>"
         "<th>Kind</th><th>App version key</th><th>Client id</th><th>OAuth credentials</th></tr>";
    for (const auto& app : access_.Apps())
      b << "<tr><td>" << Esc(app.name) << "</td><td>"
        << (app.legacy_service_account ? "Legacy service account (sunset)" : "Data connector (DMSA)")
        << "</td><td><code>" << Esc(app.app_version_key) << "</code></td><td><code>"
        << Esc(app.client_id.substr(0, 12)) << "…</code></td><td><form method=post action=\"/ui/apps/"
        << Esc(app.client_id)
        << "/secret\"><button type=submit class=secondary>New client secret</button></form></td></tr>";
    if (access_.Apps().empty())
      b << "<tr><td colspan=5 class=note>No apps yet: create one with <code>POST "
           "/_emulator/apps</code>.</td></tr>";
    b << "</table></div>";
    return Response::Html(200, Page("Home", b.str(), req, world_->Companies()));
  });

  // The Developer Portal's new client secret, shown once on the page (never in an address, so it stays out of
  // logs and history): the old secret and the app's tokens stop working.
  router.Post("/ui/apps/{client_id}/secret", [this](Request& req) {
    std::unique_lock lock(mu_);
    const App* app = access_.RegenerateSecret(req.PathParam("client_id"));
    if (!app) return Response::Html(404, Page("Not found", "<h1>No such app</h1>", req, world_->Companies()));
    std::ostringstream b;
    b << "<h1>New client secret</h1><div class=card><p>" << Esc(app->name)
      << "</p><table><tr><th>Client id</th><td><code>" << Esc(app->client_id)
      << "</code></td></tr><tr><th>Client secret</th><td><code>" << Esc(app->client_secret)
      << "</code></td></tr></table><p class=note>The previous secret, and every token issued with it, no "
         "longer work. Paste this secret into the integrations that use the app. It is shown only "
         "now.</p><p><a href=\"/\">Back</a></p></div>";
    return Response::Html(200, Page("New client secret", b.str(), req, world_->Companies()));
  });

  router.Get("/companies/{company_id}/admin/app_management", [this](Request& req) {
    std::shared_lock lock(mu_);
    const CompanyData* company = CompanyInPath(*world_, req);
    if (!company)
      return Response::Html(404, Page("Not found", "<h1>No such company</h1>", req, world_->Companies()));
    std::string base = "/companies/" + std::to_string(company->id);
    auto projects = world_->ProjectIds(company->slot);
    std::ostringstream b;
    b << "<h1>Company Admin · App Management</h1><p class=note>" << Esc(company->name) << "</p>";
    b << "<div class=card><h2>Install Custom App</h2><form method=post action=\"/ui" << base
      << "/installs\"><p><label>App Version Key <input type=text name=app_version_key required></label></p>"
      << "<p class=note>Permitted projects (the projects the app's service account may reach):</p><div "
         "class=projects>"
      << "<label><input type=checkbox name=all_projects value=1> All projects</label><br>";
    for (size_t i = 0; i < projects.size(); ++i)
      b << "<label><input type=checkbox name=project value=" << projects[i] << "> "
        << Esc(ProjectName(world_->Seed(), company->slot, static_cast<int64_t>(i))) << " <span class=note>("
        << projects[i] << ")</span></label><br>";
    b << "</div><p><button type=submit>Install</button></p></form></div>";

    b << "<div class=card><h2>Installed Apps</h2>";
    auto installs = access_.InstallsOf(company->id);
    if (installs.empty()) b << "<p class=note>No apps are installed in this company.</p>";
    for (const Install* install : installs) {
      const App* app = access_.FindApp(install->client_id);
      if (!app) continue;
      std::string ibase = "/ui" + base + "/installs/" + app->client_id;
      b << "<h2>" << Esc(app->name) << "</h2><p class=note>Client id <code>" << Esc(app->client_id)
        << "</code> · service account: <a href=\"" << base << "/directory/apps/" << app->client_id << "\">"
        << Esc(app->name) << " (Service Account)</a></p><form method=post action=\"" << ibase
        << "/projects\"><div class=projects><label><input type=checkbox name=all_projects value=1"
        << (install->all_projects ? " checked" : "") << "> All projects</label><br>";
      for (size_t i = 0; i < projects.size(); ++i)
        b << "<label><input type=checkbox name=project value=" << projects[i]
          << (!install->all_projects && install->permitted_projects.count(projects[i]) ? " checked" : "")
          << "> " << Esc(ProjectName(world_->Seed(), company->slot, static_cast<int64_t>(i)))
          << " <span class=note>(" << projects[i] << ")</span></label><br>";
      b << "</div><p><button type=submit class=secondary>Save permitted projects</button></p></form><form "
           "method=post "
           "action=\""
        << ibase << "/uninstall\"><button type=submit class=danger>Uninstall</button></form>";
    }
    b << "</div>";
    return Response::Html(200, Page("App Management", b.str(), req, world_->Companies()));
  });

  auto parse_projects = [this](const kt::QueryParams& form, const CompanyData& company, Install& install) {
    install.all_projects = kt::FindParam(form, "all_projects").has_value();
    install.permitted_projects.clear();
    if (install.all_projects) return;
    for (const auto& [k, v] : form) {
      if (k != "project") continue;
      auto id = kt::ParseInt64(v);
      auto ref = id ? world_->FindProject(*id) : std::nullopt;
      if (ref && ref->company_slot == company.slot) install.permitted_projects.insert(*id);
    }
  };

  router.Post("/ui/companies/{company_id}/installs", [this, parse_projects](Request& req) {
    std::unique_lock lock(mu_);
    const CompanyData* company = CompanyInPath(*world_, req);
    if (!company) return Response::Html(404, "no such company");
    std::string back = "/companies/" + std::to_string(company->id) + "/admin/app_management";
    auto form = kt::ParseQuery(req.body);
    std::string key(kt::Trim(kt::FindParam(form, "app_version_key").value_or("")));
    const App* app = access_.FindAppByVersionKey(key);
    if (!app)
      return Back(back, "error",
                  "No app has the version key \"" + key + "\". Check the key in the Developer Portal.");
    if (app->legacy_service_account)
      return Back(back, "error",
                  "Legacy service accounts were sunset on 18 March 2025 and cannot be installed.");
    if (access_.FindInstall(company->id, app->client_id))
      return Back(back, "error", app->name + " is already installed.");
    Install install;
    install.client_id = app->client_id;
    install.installed_at_ms = clock_.NowMs();
    parse_projects(form, *company, install);
    access_.PutInstall(company->id, std::move(install));
    return Back(back, "msg",
                app->name + " was installed. Give its service account tool permissions in the Directory.");
  });

  router.Post(
      "/ui/companies/{company_id}/installs/{client_id}/projects", [this, parse_projects](Request& req) {
        std::unique_lock lock(mu_);
        const CompanyData* company = CompanyInPath(*world_, req);
        Install* install = company ? access_.FindInstall(company->id, req.PathParam("client_id")) : nullptr;
        if (!install) return Response::Html(404, "not installed");
        parse_projects(kt::ParseQuery(req.body), *company, *install);
        return Back("/companies/" + std::to_string(company->id) + "/admin/app_management", "msg",
                    "Permitted projects saved.");
      });

  router.Post("/ui/companies/{company_id}/installs/{client_id}/uninstall", [this](Request& req) {
    std::unique_lock lock(mu_);
    auto company_id = kt::ParseInt64(req.PathParam("company_id"));
    if (!company_id || !access_.RemoveInstall(*company_id, req.PathParam("client_id")))
      return Response::Html(404, "not installed");
    return Back("/companies/" + std::to_string(*company_id) + "/admin/app_management", "msg",
                "The app was uninstalled.");
  });

  router.Get("/companies/{company_id}/directory", [this](Request& req) {
    std::shared_lock lock(mu_);
    const CompanyData* company = CompanyInPath(*world_, req);
    if (!company)
      return Response::Html(404, Page("Not found", "<h1>No such company</h1>", req, world_->Companies()));
    std::string base = "/companies/" + std::to_string(company->id);
    std::ostringstream b;
    b << "<h1>Directory · Users</h1><div class=card><h2>Service accounts of installed "
         "apps</h2><table><tr><th>Name</th>"
         "<th>Email</th><th>Permissions</th></tr>";
    auto installs = access_.InstallsOf(company->id);
    for (const Install* install : installs) {
      const App* app = access_.FindApp(install->client_id);
      if (!app) continue;
      b << "<tr><td>" << Esc(app->name) << " (Service Account)</td><td>dmsa+"
        << Esc(app->client_id.substr(0, 12)) << "@procore-service.example</td><td><a href=\"" << base
        << "/directory/apps/" << app->client_id << "\">Edit permissions</a></td></tr>";
    }
    if (installs.empty())
      b << "<tr><td colspan=3 class=note>Install an app first (Company Admin → App Management).</td></tr>";
    b << "</table></div><div class=card><h2>People</h2><table><tr><th>Name</th><th>Active</th></tr>";
    StreamKey users{company->slot, Stream::kCompanyUsers, -1};
    auto page = world_->List(users, ListFilter{}, 0, 25);
    for (const auto& r : page.records)
      b << "<tr><td>" << Esc(PersonFirstName(world_->Seed(), company->slot, r.index)) << " "
        << Esc(PersonLastName(world_->Seed(), company->slot, r.index)) << "</td><td>yes</td></tr>";
    b << "</table><p class=note>" << page.total
      << " people in the directory; the first 25 are shown.</p></div>";
    return Response::Html(200, Page("Directory", b.str(), req, world_->Companies()));
  });

  router.Get("/companies/{company_id}/directory/apps/{client_id}", [this](Request& req) {
    std::shared_lock lock(mu_);
    const CompanyData* company = CompanyInPath(*world_, req);
    const Install* install = company ? access_.FindInstall(company->id, req.PathParam("client_id")) : nullptr;
    const App* app = install ? access_.FindApp(install->client_id) : nullptr;
    if (!app)
      return Response::Html(
          404, Page("Not found", "<h1>That app is not installed here</h1>", req, world_->Companies()));
    std::ostringstream b;
    b << "<h1>" << Esc(app->name)
      << " (Service Account) · Permissions</h1><div class=card><form method=post action=\"/ui"
      << "/companies/" << company->id << "/installs/" << app->client_id << "/permissions\">";
    const Level levels[] = {Level::kNone, Level::kReadOnly, Level::kStandard, Level::kAdmin};
    for (const char* scope : {"company", "project"}) {
      bool company_scope = std::string(scope) == "company";
      b << "<h2>" << (company_scope ? "Company tools" : "Project tools (every permitted project)")
        << "</h2><table><tr><th>Tool</th>";
      for (Level l : levels) b << "<th class=c>" << LevelName(l) << "</th>";
      b << "</tr>";
      for (const auto& tool : Tools()) {
        if (company_scope ? !tool.company_scope : !tool.project_scope) continue;
        Level current = company_scope ? install->CompanyLevel(tool.name) : install->ProjectLevel(tool.name);
        b << "<tr><td>" << Esc(tool.name) << "</td>";
        for (Level l : levels)
          b << "<td class=c><input type=radio aria-label=\"" << Esc(tool.name) << " " << LevelName(l)
            << "\" name=\"" << scope << ":" << Esc(tool.name) << "\" value=" << LevelKey(l)
            << (l == current ? " checked" : "") << "></td>";
        b << "</tr>";
      }
      b << "</table>";
    }
    b << "<p><button type=submit>Save permissions</button></p></form></div>";
    return Response::Html(200, Page("Permissions", b.str(), req, world_->Companies()));
  });

  router.Post("/ui/companies/{company_id}/installs/{client_id}/permissions", [this](Request& req) {
    std::unique_lock lock(mu_);
    auto company_id = kt::ParseInt64(req.PathParam("company_id"));
    Install* install = company_id ? access_.FindInstall(*company_id, req.PathParam("client_id")) : nullptr;
    if (!install) return Response::Html(404, "not installed");
    for (const auto& [k, v] : kt::ParseQuery(req.body)) {
      size_t colon = k.find(':');
      if (colon == std::string::npos) continue;
      std::string scope = k.substr(0, colon), tool = k.substr(colon + 1);
      auto level = ParseLevel(v);
      if (!level || !FindTool(tool)) continue;
      (scope == "company" ? install->company_tools : install->project_tools)[tool] = *level;
    }
    return Back("/companies/" + std::to_string(*company_id) + "/directory/apps/" + req.PathParam("client_id"),
                "msg", "Permissions saved.");
  });
}

}  // namespace procore_emulator
