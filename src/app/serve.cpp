// Wires the routes, starts the server and workers, and shuts down gracefully on a signal.
#include "app/serve.h"

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <iostream>
#include <mutex>
#include <thread>

#include "api/api.h"
#include "api/procore_routes.h"
#include "app/services.h"
#include "fleet/lease.h"
#include "http/middleware.h"
#include "http/server.h"
#include "obs/log.h"
#include "util/thread_name.h"
#include "web/pages.h"
#include "web/procore_pages.h"

namespace kt::app {

void RegisterRoutes(http::Router& router, Services& s) {
  router.Get("/healthz",
             [](http::Request&) {
               return http::Response::Json(200, {{"status", "ok"}});
             },
             {.on_io_thread = true});
  router.Get("/readyz", [&s](http::Request&) {
    if (auto ok = s.store->Ping(); !ok)
      return http::Response::Json(503, {{"status", "unavailable"}, {"database", "unreachable"}});
    return http::Response::Json(200, {{"status", "ready"}, {"database", "ok"}});
  });
  router.Get("/metrics", http::MetricsHandler(s.metrics));
  web::RegisterStatic(router);
  auto badge = [&s](int64_t client_id) {
    integration::Badge b = s.integration->BadgeFor(client_id);
    return web::IntegrationBadge{b.status,         b.label,           b.started, b.streams,
                                 b.streams_synced, b.streams_failing, b.problem};
  };
  auto ktrack_projects = [&s](int64_t client_id) {
    auto list = s.integration->KtrackProjects(client_id);
    return list ? *list : nlohmann::json::array();
  };
  web::RegisterPages(router,
                     web::PagesDeps{*s.access, *s.users, *s.clients, *s.sessions, badge, ktrack_projects});
  web::RegisterProcorePages(router,
                            web::ProcorePagesDeps{*s.access, *s.clients, s.config.procore_allow_custom_urls,
                                                  !s.config.procore_marketplace_client_id.empty() &&
                                                      !s.config.procore_marketplace_client_secret.empty()});
  api::RegisterClientRoutes(router, *s.access, *s.clients);
  api::RegisterProcoreRoutes(router, *s.access, *s.integration);
  api::RegisterWebhookReceiver(router, *s.webhook_receiver,
                               static_cast<size_t>(s.config.webhook_max_body_bytes));
}

namespace {

// The scheduler: the sync engine's and the integration's periodic calls, every couple of seconds, in one
// process of the fleet at a time: the one holding the "scheduler" lease in the database. Another process
// takes over when the holder stops renewing it (killed: after the lease; stopped: at once, it is released).
class Ticker {
 public:
  Ticker(Services& s, Millis lease)
      : lease_(*s.store, s.clock, "scheduler", fleet::ProcessHolderName()), thread_([this, &s, lease] {
          SetThreadName("kt-scheduler");
          Run(s, lease);
        }) {}
  ~Ticker() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

 private:
  void Run(Services& s, Millis lease) {
    bool holding = false;
    std::unique_lock lock(mu_);
    while (!stopping_) {
      lock.unlock();
      auto held = lease_.Hold(lease);
      if (!held) obs::Log(obs::Level::kWarn, "scheduler_lease_failed", {{"code", held.error().code}});
      const bool now_holding = held && *held;
      if (now_holding != holding)
        obs::Log(obs::Level::kInfo, now_holding ? "scheduler_lease_taken" : "scheduler_lease_lost",
                 {{"holder", lease_.holder()}});
      holding = now_holding;
      if (holding) {
        if (auto t = s.sync->Tick(); !t)
          obs::Log(obs::Level::kWarn, "sync_tick_failed", {{"code", t.error().code}});
        if (auto t = s.integration->Tick(); !t)
          obs::Log(obs::Level::kWarn, "integration_tick_failed", {{"code", t.error().code}});
      }
      lock.lock();
      cv_.wait_for(lock, std::chrono::seconds(2), [this] { return stopping_; });
    }
    if (holding) (void)lease_.Release();
  }

  fleet::FleetLease lease_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace

int Serve(const Config& config) {
  auto level = obs::ParseLevel(config.log_level).value_or(obs::Level::kInfo);
  obs::SetDefaultLogger(obs::Logger::Stderr(level));
  auto services = BuildServices(config);
  if (!services) {
    std::fprintf(stderr, "ktrack: %s\n%s\n", services.error().message.c_str(), services.error().fix.c_str());
    obs::Log(obs::Level::kError, "startup_failed",
             {{"code", services.error().code}, {"detail", services.error().detail}});
    return 1;
  }
  Services& s = **services;
  // Deliveries that a server killed on this machine had answered but not stored yet are stored first (a
  // journal it cannot store stays for the next start).
  if (auto recovered = s.sync->inbox().RecoverJournals(); !recovered)
    obs::Log(obs::Level::kError, "inbox_journal_recovery_failed",
             {{"code", recovered.error().code}, {"message", recovered.error().message}});
  else if (*recovered > 0)
    obs::Log(obs::Level::kInfo, "inbox_journal_recovered", {{"events", *recovered}});

  // The HTTP server binds first: a listen address that cannot be used fails startup before any job runs, and
  // the webhook destination jobs write into Procore (Complete Integration) is the bound one, not the
  // configured "HOST:0".
  std::unique_ptr<http::Server> server;
  std::string url;
  if (config.role != Role::kWorker) {
    auto router = std::make_shared<http::Router>();
    RegisterRoutes(*router, s);
    http::ServerOptions options;
    options.listen = config.listen;
    options.io_threads = static_cast<size_t>(config.io_threads);
    options.worker_threads = static_cast<size_t>(config.worker_threads);
    options.max_body_bytes = static_cast<size_t>(config.max_body_bytes);
    // Behind a TLS-terminating proxy (public_base_url is https): session cookies are Secure.
    options.secure = config.public_base_url.rfind("https://", 0) == 0;
    server = std::make_unique<http::Server>(
        options, router,
        // Outermost first; CatchAll innermost so a 500 from a thrown exception is still logged, counted
        // and given the security headers.
        std::vector<http::Middleware>{http::AccessLog(obs::DefaultLogger()), http::Metrics(s.metrics),
                                      http::SecurityHeaders(), http::CatchAll(obs::DefaultLogger())});
    auto port = server->Start();
    if (!port) {
      std::fprintf(stderr, "ktrack: %s\n%s\n", port.error().message.c_str(), port.error().fix.c_str());
      return 1;
    }
    url = "http://" + server->host() + ":" + std::to_string(*port);
    s.integration->SetPublicBaseUrl(config.PublicBaseUrl(url));
  }

  std::unique_ptr<queue::Worker> worker;
  if (config.role != Role::kWeb && config.job_threads > 0) {
    // Heartbeats four times per lease, so a busy job keeps its lease through a slow store write.
    const Millis lease(config.job_lease_s * 1000);
    worker = std::make_unique<queue::Worker>(*s.queue, queue::WorkerOptions{.threads = config.job_threads,
                                                                            .lease = lease,
                                                                            .heartbeat_interval = lease / 4,
                                                                            .nice = config.job_nice});
    s.sync->RegisterHandlers(*worker);
    // A server killed on this machine and started again goes on with the webhook events it had claimed.
    if (auto released = s.sync->ReleaseInboxClaimsOfDeadProcesses(); released && *released > 0)
      obs::Log(obs::Level::kInfo, "orphaned_webhook_claims_resumed", {{"events", *released}});
    s.integration->RegisterHandlers(*worker);
    worker->Start();
    if (worker->ReleasedAtStart() > 0)
      obs::Log(obs::Level::kInfo, "orphaned_jobs_resumed", {{"jobs", worker->ReleasedAtStart()}});
    // An accepted webhook wakes this process's worker when its processing is due, not at the next poll.
    s.sync->inbox().SetWakeHook([w = worker.get()](Millis delay) { w->WakeIn(delay); });
  }
  std::unique_ptr<Ticker> ticker;
  // The scheduler lease lasts as long as a job's: a killed scheduler's work is taken over as soon as its
  // jobs.
  if (worker) ticker = std::make_unique<Ticker>(s, Millis(config.job_lease_s * 1000));

  if (server) {
    std::cout << "listening on " << url << std::endl;
    obs::Log(obs::Level::kInfo, "serving",
             {{"url", url},
              {"role", RoleName(config.role)},
              {"database", s.store->Describe()},
              {"public_base_url", config.PublicBaseUrl(url)}});
  } else {
    std::cout << "worker started" << std::endl;
  }

  http::WaitForShutdownSignal();
  obs::Log(obs::Level::kInfo, "shutting_down", {});
  if (server) server->Stop();
  ticker.reset();
  if (worker) {
    worker->Stop();
    s.sync->inbox().SetWakeHook(nullptr);
  }
  obs::Log(obs::Level::kInfo, "stopped", {});
  return 0;
}

}  // namespace kt::app
