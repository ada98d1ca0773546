// The Procore integration's pages: the summary of steps, the configuration wizard, the integration details
// and the Procore projects; server-rendered shells that static/procore.js drives through the JSON API.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "access/access.h"
#include "accounts/clients.h"
#include "http/router.h"

namespace kt::web {

struct ProcorePagesDeps {
  access::Access& access;
  accounts::Clients& clients;
  // procore.allow_custom_urls: only then does the environment chooser offer "Custom URLs".
  bool allow_custom_urls = false;
  // KTrack's own Marketplace app is configured on this server (procore.marketplace_client_id).
  bool marketplace_app = false;
};

// What each Additional Configuration Setting brings, the Procore tools it needs and its streams, from the
// integration and sync modules ("projects" is always on, then the domains), and the labels of the stream
// keys. The JSON API's GET /permissions/requirements stays authoritative; the pages use this for a live
// preview.
nlohmann::json ProcoreSettingsCatalog();

// GET /clients/{client_id}/procore/integrate, /procore/setup, /procore and /procore/projects; client admins
// only.
void RegisterProcorePages(http::Router& router, ProcorePagesDeps deps);

}  // namespace kt::web
