// Test support: a throwaway PostgreSQL server for the test process, started on first use, on loopback only.
#pragma once

#include <string>

namespace kt::testing {

// One real PostgreSQL per test process: initdb into a temporary folder, a free 127.0.0.1 port, fsync off.
// It is stopped and its folder deleted at exit; a watchdog process does the same if the test process dies.
// Set KTRACK_TEST_POSTGRES_URL (a server URL, e.g. postgresql://postgres@127.0.0.1:5432/postgres) to use an
// existing server instead; databases are then created on it.
class PostgresServer {
 public:
  // The shared server, started by the first caller. Throws std::runtime_error when it cannot start.
  static PostgresServer& Instance();
  // Whether a server can be had here (binaries found or KTRACK_TEST_POSTGRES_URL set); why not, otherwise.
  static bool Available(std::string* why_not = nullptr);

  // The default test database: "postgresql://postgres@127.0.0.1:PORT/ktrack_test" on a server of our own;
  // "ktrack_test_<pid>" on a shared server (KTRACK_TEST_POSTGRES_URL), where test processes run side by side.
  std::string Url() const { return UrlFor(DefaultDatabase()); }
  static std::string DefaultDatabase();
  std::string UrlFor(const std::string& database) const;
  // Creates (dropping it first if it exists) an empty database and returns its URL. Names: [a-z0-9_].
  std::string CreateDatabase(const std::string& name);
  int port() const { return port_; }

  void Stop();
  ~PostgresServer();

 private:
  PostgresServer() = default;
  void Start();

  std::string bin_dir_;
  std::string dir_;           // temporary folder: data/, socket, log
  std::string external_url_;  // KTRACK_TEST_POSTGRES_URL, when used
  std::string host_ = "127.0.0.1";
  std::string user_ = "postgres";
  int port_ = 0;
  bool running_ = false;
  bool as_postgres_user_ = false;
  int watchdog_fd_ = -1;
};

}  // namespace kt::testing
