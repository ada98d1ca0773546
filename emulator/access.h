// Who may call the emulated Procore: apps and their credentials, access tokens, installs (DMSA) with their
// permission matrix and permitted projects, and which tools are active on which project.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "emulator/streams.h"

namespace procore_emulator {

struct App {
  std::string name;
  std::string client_id;
  std::string client_secret;
  std::string app_version_key;
  bool legacy_service_account =
      false;            // credentials of a traditional service account: refused since March 2025
  int64_t user_id = 0;  // the app's service-account (DMSA) user
  int64_t created_at_ms = 0;
};

struct AccessToken {
  std::string token;
  std::string client_id;
  int64_t created_at_ms = 0;
  int64_t expires_at_ms = 0;
  bool revoked = false;
};

struct Install {
  std::string client_id;
  std::map<std::string, Level> company_tools;  // tool name → level (absent: None)
  std::map<std::string, Level> project_tools;
  bool all_projects = true;
  std::set<int64_t> permitted_projects;  // when !all_projects
  int64_t installed_at_ms = 0;

  Level CompanyLevel(std::string_view tool) const;
  Level ProjectLevel(std::string_view tool) const;
  bool Permits(int64_t project_id) const { return all_projects || permitted_projects.count(project_id) > 0; }
};

class Access {
 public:
  // New credentials, or the ones given (an app registered again after a restart keeps its credentials).
  const App& CreateApp(std::string name, bool legacy, int64_t user_id, int64_t now_ms,
                       std::string client_id = {}, std::string client_secret = {});
  const App* FindApp(std::string_view client_id) const;
  const App* FindAppByVersionKey(std::string_view app_version_key) const;
  const std::vector<App>& Apps() const { return apps_; }

  const AccessToken& IssueToken(const std::string& client_id, int64_t now_ms, int64_t lifetime_s);
  const AccessToken* FindToken(std::string_view token) const;
  // Every token issued to the app, live or not (tests look for them where they must never appear).
  std::vector<std::string> TokensOf(std::string_view client_id) const;
  // Revokes the token if it exists and belongs to client_id (or client_id is empty).
  void Revoke(std::string_view token, std::string_view client_id);
  // The Developer Portal's new client secret: the old one stops working, and so do the app's tokens (Procore
  // does not document what happens to them; revoking them is the reading that tests a client hardest).
  // Null when there is no such app.
  const App* RegenerateSecret(std::string_view client_id);

  void PutInstall(int64_t company_id, Install install);
  bool RemoveInstall(int64_t company_id, std::string_view client_id);
  const Install* FindInstall(int64_t company_id, std::string_view client_id) const;
  Install* FindInstall(int64_t company_id, std::string_view client_id);
  std::vector<const Install*> InstallsOf(int64_t company_id) const;

  void SetToolActive(int64_t project_id, std::string_view tool, bool active);
  bool ToolActive(int64_t project_id, std::string_view tool) const;

 private:
  std::vector<App> apps_;
  std::map<std::string, AccessToken, std::less<>> tokens_;
  std::map<int64_t, std::map<std::string, Install, std::less<>>> installs_;
  std::set<std::pair<int64_t, std::string>> inactive_tools_;
};

}  // namespace procore_emulator
