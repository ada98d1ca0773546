// procore-emulator: serves an emulated Procore (API, control API, UI) on a loopback address.
#include <cstdio>
#include <iostream>

#include <CLI/CLI.hpp>

#include "emulator/emulator.h"
#include "http/server.h"
#include "util/strings.h"

namespace {

// The emulator is a test double: it only listens on loopback addresses.
bool IsLoopback(const std::string& host) {
  return host == "localhost" || host == "::1" || host == "[::1]" || kt::StartsWith(host, "127.");
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App cli{"procore-emulator: a stateful, deterministic emulation of Procore's REST API"};
  std::string listen = "127.0.0.1:4310";
  std::string preset_name = "demo";
  uint64_t seed = 1;
  double time_scale = 1.0;
  cli.add_option("--listen", listen, "HOST:PORT to listen on (port 0 picks a free port; loopback only)");
  cli.add_option("--preset", preset_name, "data preset: small, demo or large")
      ->check(CLI::IsMember({"small", "demo", "large"}));
  cli.add_option("--seed", seed, "seed of the generated data");
  cli.add_option("--time-scale", time_scale, "emulated seconds per real second (3600: an hour per second)")
      ->check(CLI::PositiveNumber);
  CLI11_PARSE(cli, argc, argv);

  size_t colon = listen.rfind(':');
  std::string host = colon == std::string::npos ? listen : listen.substr(0, colon);
  if (!IsLoopback(host)) {
    std::fprintf(
        stderr,
        "procore-emulator: --listen must be a loopback address (127.0.0.1, ::1 or localhost), not %s\n",
        host.c_str());
    return 2;
  }

  procore_emulator::EmulatorOptions options;
  options.preset = *procore_emulator::ParsePreset(preset_name);
  options.seed = seed;
  options.time_scale = time_scale;
  procore_emulator::Emulator emulator(options);

  auto router = std::make_shared<kt::http::Router>();
  emulator.RegisterRoutes(*router);
  kt::http::ServerOptions server_options;
  server_options.listen = listen;
  // Requests held by the timeout fault each occupy a worker; keep plenty so the rest still flow.
  server_options.worker_threads = 64;
  server_options.io_threads = 2;
  server_options.max_body_bytes = 8 << 20;
  kt::http::Server server(server_options, router);
  auto port = server.Start();
  if (!port) {
    std::fprintf(stderr, "procore-emulator: cannot listen on %s: %s\n", listen.c_str(),
                 port.error().message.c_str());
    return 1;
  }
  emulator.Start();
  std::string shown_host = server.host();
  if (shown_host.find(':') != std::string::npos && shown_host.front() != '[')
    shown_host = "[" + shown_host + "]";
  std::printf("listening on http://%s:%u\n", shown_host.c_str(), static_cast<unsigned>(*port));
  std::fflush(stdout);

  kt::http::WaitForShutdownSignal();
  emulator.Stop();
  server.Stop(std::chrono::milliseconds(2000));
  return 0;
}
