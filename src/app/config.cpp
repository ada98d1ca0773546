// Loads the server configuration from file, environment and flags.
#include "app/config.h"

#include <cctype>
#include <fstream>
#include <functional>
#include <sstream>

#include "util/strings.h"

namespace kt::app {

namespace {

Status BadValue(const std::string& key, const std::string& expected) {
  return Fail(ErrorKind::kInvalidInput, "invalid_config",
              "Configuration value '" + key + "' is not valid: expected " + expected + ".",
              "Correct '" + key + "' in the config file, its KTRACK_ environment variable or its flag.");
}

Status SetBool(bool& out, const std::string& key, const std::string& v) {
  std::string l = ToLower(v);
  if (l == "true" || l == "1" || l == "yes" || l == "on") {
    out = true;
  } else if (l == "false" || l == "0" || l == "no" || l == "off") {
    out = false;
  } else {
    return BadValue(key, "true or false");
  }
  return {};
}

template <typename Int>
Status SetInt(Int& out, const std::string& key, const std::string& v, int64_t lo, int64_t hi) {
  auto n = ParseInt64(v);
  if (!n || *n < lo || *n > hi)
    return BadValue(key, "a whole number from " + std::to_string(lo) + " to " + std::to_string(hi));
  out = static_cast<Int>(*n);
  return {};
}

using Setter = std::function<Status(Config&, const std::string& key, const std::string& value)>;

const std::map<std::string, Setter>& Setters() {
  static const std::map<std::string, Setter> setters = {
      {"listen",
       [](Config& c, const std::string&, const std::string& v) {
         c.listen = v;
         return Status{};
       }},
      {"data_dir",
       [](Config& c, const std::string&, const std::string& v) {
         c.data_dir = v;
         return Status{};
       }},
      {"database",
       [](Config& c, const std::string&, const std::string& v) {
         c.database = v;
         return Status{};
       }},
      {"public_base_url",
       [](Config& c, const std::string& k, const std::string& v) -> Status {
         if (!v.empty() && !StartsWith(v, "http://") && !StartsWith(v, "https://"))
           return BadValue(k, "an http:// or https:// URL");
         c.public_base_url = v;
         while (!c.public_base_url.empty() && c.public_base_url.back() == '/') c.public_base_url.pop_back();
         return {};
       }},
      {"role",
       [](Config& c, const std::string& k, const std::string& v) -> Status {
         if (v == "web")
           c.role = Role::kWeb;
         else if (v == "worker")
           c.role = Role::kWorker;
         else if (v == "all")
           c.role = Role::kAll;
         else
           return BadValue(k, "web, worker or all");
         return {};
       }},
      {"log_level",
       [](Config& c, const std::string& k, const std::string& v) -> Status {
         static const char* kLevels[] = {"trace", "debug", "info", "warn", "error", "off"};
         for (const char* l : kLevels)
           if (v == l) {
             c.log_level = v;
             return {};
           }
         return BadValue(k, "trace, debug, info, warn, error or off");
       }},
      {"server.io_threads", [](Config& c, const std::string& k,
                               const std::string& v) { return SetInt(c.io_threads, k, v, 1, 64); }},
      {"server.worker_threads", [](Config& c, const std::string& k,
                                   const std::string& v) { return SetInt(c.worker_threads, k, v, 1, 256); }},
      {"server.max_body_bytes",
       [](Config& c, const std::string& k, const std::string& v) {
         return SetInt(c.max_body_bytes, k, v, 1024, int64_t{1} << 30);
       }},
      {"worker.job_threads", [](Config& c, const std::string& k,
                                const std::string& v) { return SetInt(c.job_threads, k, v, 0, 256); }},
      {"worker.job_nice",
       [](Config& c, const std::string& k, const std::string& v) { return SetInt(c.job_nice, k, v, 0, 19); }},
      {"worker.job_lease_s", [](Config& c, const std::string& k,
                                const std::string& v) { return SetInt(c.job_lease_s, k, v, 1, 3600); }},
      {"procore.allow_custom_urls",
       [](Config& c, const std::string& k, const std::string& v) {
         return SetBool(c.procore_allow_custom_urls, k, v);
       }},
      {"procore.marketplace_client_id",
       [](Config& c, const std::string&, const std::string& v) {
         c.procore_marketplace_client_id = v;
         return Status{};
       }},
      {"procore.marketplace_client_secret",
       [](Config& c, const std::string&, const std::string& v) {
         c.procore_marketplace_client_secret = v;
         return Status{};
       }},
      {"integration.maintenance_interval_s",
       [](Config& c, const std::string& k, const std::string& v) {
         return SetInt(c.integration_maintenance_interval_s, k, v, 1, 3600);
       }},
      {"integration.permission_recheck_interval_s",
       [](Config& c, const std::string& k, const std::string& v) {
         return SetInt(c.integration_permission_recheck_interval_s, k, v, 1, 86400);
       }},
      {"integration.permission_check_projects",
       [](Config& c, const std::string& k, const std::string& v) {
         return SetInt(c.integration_permission_check_projects, k, v, 1, 1000);
       }},
      {"webhooks.max_body_bytes",
       [](Config& c, const std::string& k, const std::string& v) {
         return SetInt(c.webhook_max_body_bytes, k, v, 1024, int64_t{64} << 20);
       }},
  };
  return setters;
}

}  // namespace

std::string Config::DatabaseUrl() const {
  if (!database.empty()) return database;
  return "sqlite:" + data_dir + "/ktrack.db";
}

std::string Config::PublicBaseUrl(const std::string& bound_url) const {
  return public_base_url.empty() ? bound_url : public_base_url;
}

std::string_view RoleName(Role role) {
  switch (role) {
    case Role::kWeb:
      return "web";
    case Role::kWorker:
      return "worker";
    case Role::kAll:
      return "all";
  }
  return "all";
}

Result<ConfigValues> ParseConfigText(std::string_view text) {
  ConfigValues out;
  std::string section;
  int line_no = 0;
  for (const std::string& raw : Split(text, '\n')) {
    ++line_no;
    std::string_view line = Trim(raw);
    auto where = [&] { return "line " + std::to_string(line_no); };
    if (line.empty() || line.front() == '#') continue;
    if (line.front() == '[') {
      if (line.back() != ']' || line.size() < 3)
        return Fail(ErrorKind::kInvalidInput, "invalid_config",
                    "Config file " + where() + ": a section header must look like [name].",
                    "Write the section as [server], [worker], [procore], [integration] or [webhooks].");
      section = std::string(Trim(line.substr(1, line.size() - 2)));
      for (char c : section)
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_')
          return Fail(ErrorKind::kInvalidInput, "invalid_config",
                      "Config file " + where() + ": section names use letters, digits and _.",
                      "Rename the section.");
      continue;
    }
    size_t eq = line.find('=');
    if (eq == std::string_view::npos)
      return Fail(ErrorKind::kInvalidInput, "invalid_config",
                  "Config file " + where() + ": expected key = value.",
                  "Write settings as key = value, strings in double quotes.");
    std::string key(Trim(line.substr(0, eq)));
    std::string_view value = Trim(line.substr(eq + 1));
    if (key.empty())
      return Fail(ErrorKind::kInvalidInput, "invalid_config",
                  "Config file " + where() + ": the key is missing before '='.",
                  "Write settings as key = value.");
    std::string parsed;
    if (!value.empty() && value.front() == '"') {
      // A quoted string with \" and \\ escapes; a trailing comment may follow the closing quote.
      size_t i = 1;
      bool closed = false;
      for (; i < value.size(); ++i) {
        char c = value[i];
        if (c == '\\' && i + 1 < value.size()) {
          char n = value[++i];
          parsed.push_back(n == 'n' ? '\n' : n == 't' ? '\t' : n);
        } else if (c == '"') {
          closed = true;
          break;
        } else {
          parsed.push_back(c);
        }
      }
      std::string_view rest = closed ? Trim(value.substr(i + 1)) : std::string_view();
      if (!closed || (!rest.empty() && rest.front() != '#'))
        return Fail(ErrorKind::kInvalidInput, "invalid_config",
                    "Config file " + where() + ": the string value is not closed with '\"'.",
                    "Close the quoted string on the same line.");
    } else {
      size_t hash = value.find('#');
      parsed = std::string(Trim(value.substr(0, hash)));
      if (parsed.empty())
        return Fail(ErrorKind::kInvalidInput, "invalid_config",
                    "Config file " + where() + ": the value of '" + key + "' is empty.",
                    "Give a value, or remove the line to keep the default.");
    }
    out[section.empty() ? key : section + "." + key] = parsed;
  }
  return out;
}

ConfigValues ConfigFromEnvironment(char** environ_ptr) {
  ConfigValues out;
  if (!environ_ptr) return out;
  std::map<std::string, std::string> env;
  for (char** e = environ_ptr; *e; ++e) {
    std::string_view kv(*e);
    size_t eq = kv.find('=');
    if (eq == std::string_view::npos) continue;
    env.emplace(std::string(kv.substr(0, eq)), std::string(kv.substr(eq + 1)));
  }
  for (const auto& [key, setter] : Setters()) {
    std::string name = "KTRACK_";
    for (char c : key)
      name.push_back(c == '.' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
    auto it = env.find(name);
    if (it != env.end()) out[key] = it->second;
  }
  return out;
}

Status ApplyConfigValues(Config& config, const ConfigValues& values) {
  const auto& setters = Setters();
  for (const auto& [key, value] : values) {
    auto it = setters.find(key);
    if (it == setters.end())
      return Fail(ErrorKind::kInvalidInput, "invalid_config", "Unknown configuration key '" + key + "'.",
                  "Check the spelling; docs/ARCHITECTURE.md lists the settings.");
    if (auto s = it->second(config, key, value); !s) return s;
  }
  return {};
}

Result<Config> LoadConfig(const std::optional<std::string>& file, char** environ_ptr) {
  Config config;
  if (file) {
    std::ifstream in(*file);
    if (!in)
      return Fail(ErrorKind::kInvalidInput, "config_not_found",
                  "Cannot read the config file '" + *file + "'.", "Check the path given to --config.");
    std::stringstream ss;
    ss << in.rdbuf();
    auto values = ParseConfigText(ss.str());
    if (!values) return tl::unexpected(values.error());
    if (auto s = ApplyConfigValues(config, *values); !s) return tl::unexpected(s.error());
  }
  if (auto s = ApplyConfigValues(config, ConfigFromEnvironment(environ_ptr)); !s)
    return tl::unexpected(s.error());
  return config;
}

}  // namespace kt::app
