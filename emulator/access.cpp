// Apps, tokens, installs and tool activation.
#include "emulator/access.h"

#include "util/hash.h"

namespace procore_emulator {

Level Install::CompanyLevel(std::string_view tool) const {
  auto it = company_tools.find(std::string(tool));
  return it == company_tools.end() ? Level::kNone : it->second;
}

Level Install::ProjectLevel(std::string_view tool) const {
  auto it = project_tools.find(std::string(tool));
  return it == project_tools.end() ? Level::kNone : it->second;
}

const App& Access::CreateApp(std::string name, bool legacy, int64_t user_id, int64_t now_ms,
                             std::string client_id, std::string client_secret) {
  App app;
  app.name = std::move(name);
  // Procore's client ids and secrets are 64 hex-ish characters; version keys are shorter.
  app.client_id = client_id.empty() ? kt::RandomHex(32) : std::move(client_id);
  app.client_secret = client_secret.empty() ? kt::RandomHex(32) : std::move(client_secret);
  app.app_version_key = kt::RandomHex(10);
  app.legacy_service_account = legacy;
  app.user_id = user_id;
  app.created_at_ms = now_ms;
  apps_.push_back(std::move(app));
  return apps_.back();
}

const App* Access::FindApp(std::string_view client_id) const {
  for (const auto& app : apps_)
    if (app.client_id == client_id) return &app;
  return nullptr;
}

const App* Access::FindAppByVersionKey(std::string_view key) const {
  for (const auto& app : apps_)
    if (app.app_version_key == key) return &app;
  return nullptr;
}

const AccessToken& Access::IssueToken(const std::string& client_id, int64_t now_ms, int64_t lifetime_s) {
  AccessToken t;
  t.token = kt::RandomToken(32);
  t.client_id = client_id;
  t.created_at_ms = now_ms;
  t.expires_at_ms = now_ms + lifetime_s * 1000;
  auto [it, _] = tokens_.emplace(t.token, t);
  return it->second;
}

std::vector<std::string> Access::TokensOf(std::string_view client_id) const {
  std::vector<std::string> out;
  for (const auto& [token, t] : tokens_)
    if (t.client_id == client_id) out.push_back(token);
  return out;
}

const AccessToken* Access::FindToken(std::string_view token) const {
  auto it = tokens_.find(token);
  return it == tokens_.end() ? nullptr : &it->second;
}

void Access::Revoke(std::string_view token, std::string_view client_id) {
  auto it = tokens_.find(token);
  if (it == tokens_.end()) return;
  if (!client_id.empty() && it->second.client_id != client_id) return;
  it->second.revoked = true;
}

const App* Access::RegenerateSecret(std::string_view client_id) {
  for (auto& app : apps_) {
    if (app.client_id != client_id) continue;
    app.client_secret = kt::RandomHex(32);
    for (auto& [token, t] : tokens_)
      if (t.client_id == client_id) t.revoked = true;
    return &app;
  }
  return nullptr;
}

void Access::PutInstall(int64_t company_id, Install install) {
  std::string key = install.client_id;
  installs_[company_id][key] = std::move(install);
}

bool Access::RemoveInstall(int64_t company_id, std::string_view client_id) {
  auto it = installs_.find(company_id);
  if (it == installs_.end()) return false;
  auto jt = it->second.find(client_id);
  if (jt == it->second.end()) return false;
  it->second.erase(jt);
  return true;
}

const Install* Access::FindInstall(int64_t company_id, std::string_view client_id) const {
  auto it = installs_.find(company_id);
  if (it == installs_.end()) return nullptr;
  auto jt = it->second.find(client_id);
  return jt == it->second.end() ? nullptr : &jt->second;
}

Install* Access::FindInstall(int64_t company_id, std::string_view client_id) {
  auto it = installs_.find(company_id);
  if (it == installs_.end()) return nullptr;
  auto jt = it->second.find(client_id);
  return jt == it->second.end() ? nullptr : &jt->second;
}

std::vector<const Install*> Access::InstallsOf(int64_t company_id) const {
  std::vector<const Install*> out;
  auto it = installs_.find(company_id);
  if (it != installs_.end())
    for (const auto& [_, install] : it->second) out.push_back(&install);
  return out;
}

void Access::SetToolActive(int64_t project_id, std::string_view tool, bool active) {
  if (active)
    inactive_tools_.erase({project_id, std::string(tool)});
  else
    inactive_tools_.insert({project_id, std::string(tool)});
}

bool Access::ToolActive(int64_t project_id, std::string_view tool) const {
  return inactive_tools_.count({project_id, std::string(tool)}) == 0;
}

}  // namespace procore_emulator
