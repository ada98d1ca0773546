// `ktrack`: serve, migrate, client add, client list, user add, token create, keys rotate, routes.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "app/config.h"
#include "app/serve.h"
#include "app/services.h"
#include "crypto/master_key.h"
#include "obs/log.h"
#include "store/migrations.h"

extern char** environ;

namespace {

using kt::app::Config;

struct CommonFlags {
  std::string config_file, data_dir, listen, database, role, public_base_url;
  bool json = false;
};

void AddCommon(CLI::App* cmd, CommonFlags& f, bool server_flags) {
  cmd->add_option("--config", f.config_file, "Config file (TOML subset: [section] and key = value)");
  cmd->add_option("--data-dir", f.data_dir, "Data directory (SQLite database, master key file)");
  cmd->add_option("--database", f.database, "sqlite:PATH or postgresql://...");
  if (server_flags) {
    cmd->add_option("--listen", f.listen, "HOST:PORT to listen on; port 0 picks a free port");
    cmd->add_option("--role", f.role, "web, worker or all")->check(CLI::IsMember({"web", "worker", "all"}));
    cmd->add_option("--public-base-url", f.public_base_url, "Where Procore sends webhooks");
  }
}

// Defaults, then the config file, then KTRACK_* variables, then flags.
std::optional<Config> Load(const CommonFlags& f) {
  auto config =
      kt::app::LoadConfig(f.config_file.empty() ? std::nullopt : std::optional(f.config_file), environ);
  if (!config) {
    std::fprintf(stderr, "ktrack: %s\n%s\n", config.error().message.c_str(), config.error().fix.c_str());
    return std::nullopt;
  }
  kt::app::ConfigValues flags;
  if (!f.data_dir.empty()) flags["data_dir"] = f.data_dir;
  if (!f.database.empty()) flags["database"] = f.database;
  if (!f.listen.empty()) flags["listen"] = f.listen;
  if (!f.role.empty()) flags["role"] = f.role;
  if (!f.public_base_url.empty()) flags["public_base_url"] = f.public_base_url;
  if (auto ok = kt::app::ApplyConfigValues(*config, flags); !ok) {
    std::fprintf(stderr, "ktrack: %s\n%s\n", ok.error().message.c_str(), ok.error().fix.c_str());
    return std::nullopt;
  }
  return *config;
}

int Report(const kt::Error& e) {
  std::fprintf(stderr, "ktrack: %s\n", e.message.c_str());
  if (!e.fix.empty()) std::fprintf(stderr, "%s\n", e.fix.c_str());
  return 1;
}

std::unique_ptr<kt::app::Services> Open(const CommonFlags& f, int& exit_code) {
  auto config = Load(f);
  if (!config) {
    exit_code = 2;
    return nullptr;
  }
  // Commands other than serve log only warnings, so their stdout stays clean for scripts.
  kt::obs::SetDefaultLogger(kt::obs::Logger::Stderr(kt::obs::Level::kWarn));
  auto services = kt::app::BuildServices(*config);
  if (!services) {
    exit_code = Report(services.error());
    return nullptr;
  }
  return std::move(*services);
}

// The message for a command word that names no command, or for a command that needs one after it (CLI11 says
// only "A subcommand is required"): the commands there are at that level, and where help is. Nothing when the
// words name a command to run (its options' errors are CLI11's, which name them).
std::optional<std::string> UnknownCommand(CLI::App& app, int argc, char** argv) {
  auto commands_of = [](CLI::App* at) { return at->get_subcommands([](CLI::App*) { return true; }); };
  auto names_of = [](const std::vector<CLI::App*>& commands) {
    std::string names;
    for (CLI::App* c : commands) names += (names.empty() ? "" : ", ") + c->get_name();
    return names;
  };
  CLI::App* at = &app;
  std::string path = "ktrack";
  for (int i = 1; i < argc; ++i) {
    const std::string word = argv[i];
    if (word.empty() || word[0] == '-') return std::nullopt;  // an option: CLI11's own message names it
    const auto commands = commands_of(at);
    if (commands.empty()) return std::nullopt;  // a command's own argument
    auto next =
        std::find_if(commands.begin(), commands.end(), [&](CLI::App* c) { return c->get_name() == word; });
    if (next == commands.end())
      return "'" + word + "' is not a command of " + path + ". Commands: " + names_of(commands) + ".\nRun '" +
             path + " --help' for what each does.";
    at = *next;
    path += " " + word;
  }
  const auto commands = commands_of(at);
  if (commands.empty()) return std::nullopt;
  return path + " needs a command: " + names_of(commands) + ".\nRun '" + path +
         " --help' for what each does.";
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"KTrack: construction program management with the Procore company integration"};
  app.require_subcommand(1);
  CommonFlags f;
  int exit_code = 0;

  auto* serve = app.add_subcommand(
      "serve", "Serve the web app, the JSON API and the webhook receiver, and run workers");
  AddCommon(serve, f, true);
  serve->callback([&] {
    auto config = Load(f);
    exit_code = config ? kt::app::Serve(*config) : 2;
  });

  auto* migrate = app.add_subcommand("migrate", "Apply pending database migrations");
  AddCommon(migrate, f, false);
  migrate->add_flag("--json", f.json, "Print JSON");
  migrate->callback([&] {
    auto s = Open(f, exit_code);
    if (!s) return;
    auto version = kt::store::SchemaVersion(*s->store);
    if (!version) {
      exit_code = Report(version.error());
      return;
    }
    if (f.json)
      std::cout << nlohmann::json{{"schema_version", *version}}.dump() << std::endl;
    else
      std::cout << "database " << s->store->Describe() << " is at schema version " << *version << std::endl;
  });

  auto* client = app.add_subcommand("client", "Manage clients");
  client->require_subcommand(1);
  auto* client_add = client->add_subcommand("add", "Create a client");
  std::string client_name;
  client_add->add_option("--name", client_name, "The client's name")->required();
  AddCommon(client_add, f, false);
  client_add->add_flag("--json", f.json, "Print JSON");
  client_add->callback([&] {
    auto s = Open(f, exit_code);
    if (!s) return;
    auto c = s->clients->Create(client_name);
    if (!c) {
      exit_code = Report(c.error());
      return;
    }
    if (f.json)
      std::cout << nlohmann::json{{"id", c->id}, {"name", c->name}}.dump() << std::endl;
    else
      std::cout << "client " << c->id << " created: " << c->name << std::endl;
  });

  auto* client_list = client->add_subcommand("list", "List the clients and their ids");
  AddCommon(client_list, f, false);
  client_list->add_flag("--json", f.json, "Print JSON (an array of {id, name})");
  client_list->callback([&] {
    auto s = Open(f, exit_code);
    if (!s) return;
    auto list = s->clients->List();
    if (!list) {
      exit_code = Report(list.error());
      return;
    }
    if (f.json) {
      nlohmann::json out = nlohmann::json::array();
      for (const auto& c : *list) out.push_back({{"id", c.id}, {"name", c.name}});
      std::cout << out.dump() << std::endl;
      return;
    }
    if (list->empty())
      std::cout << "no clients yet: create one with 'ktrack client add --name NAME'" << std::endl;
    for (const auto& c : *list) std::cout << c.id << "\t" << c.name << std::endl;
  });

  auto* user = app.add_subcommand("user", "Manage users");
  user->require_subcommand(1);
  auto* user_add =
      user->add_subcommand("add", "Create a user (or add an existing one) as a member of a client");
  int64_t user_client = 0;
  std::string email, password, role = "member";
  user_add->add_option("--client", user_client, "Client id")->required();
  user_add->add_option("--email", email, "Email address (the sign-in name)")->required();
  user_add->add_option("--password", password, "Password (at least 8 characters) for a new user");
  user_add->add_option("--role", role, "admin or member")->check(CLI::IsMember({"admin", "member"}));
  AddCommon(user_add, f, false);
  user_add->add_flag("--json", f.json, "Print JSON");
  user_add->callback([&] {
    auto s = Open(f, exit_code);
    if (!s) return;
    if (auto c = s->clients->Get(user_client); !c) {
      kt::Error e = c.error();
      if (e.code == "client_not_found") {
        e.message = "There is no client " + std::to_string(user_client) + ".";
        e.fix = "Run 'ktrack client list' for the clients and their ids.";
      }
      exit_code = Report(e);
      return;
    }
    auto existing = s->users->FindByEmail(email);
    if (!existing) {
      exit_code = Report(existing.error());
      return;
    }
    kt::accounts::User u;
    if (*existing) {
      u = **existing;
    } else {
      if (password.empty()) {
        exit_code = Report({kt::ErrorKind::kInvalidInput,
                            "password_required",
                            "A new user needs a password.",
                            "Pass --password with at least 8 characters.",
                            {}});
        return;
      }
      auto created = s->users->Create(email, password);
      if (!created) {
        exit_code = Report(created.error());
        return;
      }
      u = *created;
    }
    if (auto ok = s->memberships->Add(user_client, u.id, *kt::accounts::ParseRole(role)); !ok) {
      exit_code = Report(ok.error());
      return;
    }
    if (f.json)
      std::cout << nlohmann::json{{"id", u.id},
                                  {"email", u.email},
                                  {"client_id", user_client},
                                  {"role", role}}
                       .dump()
                << std::endl;
    else
      std::cout << "user " << u.id << " (" << u.email << ") is " << role << " of client " << user_client
                << std::endl;
  });

  auto* token = app.add_subcommand("token", "Manage API tokens");
  token->require_subcommand(1);
  auto* token_create = token->add_subcommand("create", "Create an API token for a user (printed once)");
  std::string token_email, token_name = "cli";
  token_create->add_option("--email", token_email, "The user's email")->required();
  token_create->add_option("--name", token_name, "A name to recognise the token by");
  AddCommon(token_create, f, false);
  token_create->add_flag("--json", f.json, "Print JSON");
  token_create->callback([&] {
    auto s = Open(f, exit_code);
    if (!s) return;
    auto u = s->users->FindByEmail(token_email);
    if (!u || !*u) {
      exit_code = Report(u ? kt::Error{kt::ErrorKind::kNotFound,
                                       "user_not_found",
                                       "No user has the email '" + token_email + "'.",
                                       "Create the user first with 'ktrack user add'.",
                                       {}}
                           : u.error());
      return;
    }
    auto t = s->api_tokens->Create((*u)->id, token_name);
    if (!t) {
      exit_code = Report(t.error());
      return;
    }
    if (f.json)
      std::cout << nlohmann::json{{"token", t->token}}.dump() << std::endl;
    else
      std::cout << t->token << std::endl;
  });

  auto* keys = app.add_subcommand("keys", "Manage the master key that encrypts secrets at rest");
  keys->require_subcommand(1);
  auto* rotate = keys->add_subcommand("rotate", "Add a new master key and re-encrypt every secret under it");
  AddCommon(rotate, f, false);
  rotate->add_flag("--json", f.json, "Print JSON");
  rotate->callback([&] {
    auto config = Load(f);
    if (!config) {
      exit_code = 2;
      return;
    }
    auto s = Open(f, exit_code);
    if (!s) return;
    auto rotation = kt::crypto::RotateMasterKey(
        *s->store, kt::crypto::KeySourceFromEnvironment(config->data_dir), s->clock);
    if (!rotation) {
      exit_code = Report(rotation.error());
      return;
    }
    const auto* report = &rotation->report;
    exit_code = report->failed.empty() ? 0 : 1;
    if (f.json)
      std::cout << nlohmann::json{{"active_key_id", report->active_key_id},
                                  {"rotated", report->rotated},
                                  {"failed", report->failed},
                                  {"remaining", report->remaining}}
                       .dump()
                << std::endl;
    else
      std::cout << "re-encrypted " << report->rotated << " secret(s) under key " << report->active_key_id
                << std::endl;
  });

  auto* routes = app.add_subcommand(
      "routes", "Print the web role's route table (method and path pattern) as JSON, as serve registers it");
  AddCommon(routes, f, false);
  routes->callback([&] {
    auto s = Open(f, exit_code);
    if (!s) return;
    kt::http::Router router;
    kt::app::RegisterRoutes(router, *s);
    nlohmann::json out = nlohmann::json::array();
    for (const auto& r : router.routes()) out.push_back({{"method", r.method}, {"pattern", r.pattern}});
    std::cout << out.dump() << std::endl;
  });

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (auto unknown = UnknownCommand(app, argc, argv); unknown && e.get_exit_code() != 0) {
      std::cerr << *unknown << std::endl;
      return e.get_exit_code();
    }
    return app.exit(e);
  }
  return exit_code;
}
