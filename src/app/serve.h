// `ktrack serve`: the HTTP server (web role) and the job workers (worker role) in one process.
#pragma once

#include "app/config.h"
#include "http/router.h"

namespace kt::app {

struct Services;

// Builds the router with every route of the web role.
void RegisterRoutes(http::Router& router, Services& services);
// Runs until SIGINT/SIGTERM; returns the process exit code.
int Serve(const Config& config);

}  // namespace kt::app
