// A PostgreSQL server for tests: initdb, pg_ctl start on a free loopback port, databases made with psql.
#include "postgres.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <vector>

namespace kt::testing {
namespace {

namespace fs = std::filesystem;

// The bin folder of the newest PostgreSQL under /usr/lib/postgresql, or "" when there is none.
std::string FindBinDir(int* version) {
  std::string best;
  int best_version = 0;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/usr/lib/postgresql", ec)) {
    fs::path bin = entry.path() / "bin";
    if (!fs::exists(bin / "initdb") || !fs::exists(bin / "pg_ctl")) continue;
    int v = std::atoi(entry.path().filename().c_str());
    if (v > best_version) {
      best_version = v;
      best = bin.string();
    }
  }
  if (version) *version = best_version;
  return best;
}

bool RunningAsRoot() {
  return ::geteuid() == 0;
}

// Runs argv to completion with stdin from /dev/null and stdout+stderr appended to log_path; returns the
// status.
int Run(const std::vector<std::string>& argv, const std::string& log_path) {
  pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    int in = ::open("/dev/null", O_RDONLY);
    int out = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (in >= 0) ::dup2(in, 0);
    if (out >= 0) {
      ::dup2(out, 1);
      ::dup2(out, 2);
    }
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execvp(args[0], args.data());
    std::fprintf(stderr, "exec %s failed: %s\n", args[0], std::strerror(errno));
    ::_exit(127);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

int FreeLoopbackPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw std::runtime_error("socket failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ::close(fd);
    throw std::runtime_error("could not find a free loopback port");
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

std::string ShellQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::mutex g_mu;
std::unique_ptr<PostgresServer> g_server;

}  // namespace

std::string PostgresServer::DefaultDatabase() {
  const char* url = std::getenv("KTRACK_TEST_POSTGRES_URL");
  return url && *url ? "ktrack_test_" + std::to_string(::getpid()) : "ktrack_test";
}

bool PostgresServer::Available(std::string* why_not) {
  if (const char* url = std::getenv("KTRACK_TEST_POSTGRES_URL"); url && *url) return true;
  int version = 0;
  if (FindBinDir(&version).empty()) {
    if (why_not) *why_not = "no PostgreSQL server binaries under /usr/lib/postgresql/*/bin";
    return false;
  }
  if (RunningAsRoot() && !::getpwnam("postgres")) {
    if (why_not) *why_not = "running as root and there is no 'postgres' user to run the server as";
    return false;
  }
  return true;
}

PostgresServer& PostgresServer::Instance() {
  std::lock_guard lock(g_mu);
  if (!g_server) {
    std::unique_ptr<PostgresServer> server(new PostgresServer());
    server->Start();
    g_server = std::move(server);  // destroyed (and so stopped) at exit
  }
  return *g_server;
}

void PostgresServer::Start() {
  if (const char* url = std::getenv("KTRACK_TEST_POSTGRES_URL"); url && *url) {
    external_url_ = url;
    running_ = true;
    CreateDatabase(DefaultDatabase());
    return;
  }
  int version = 0;
  bin_dir_ = FindBinDir(&version);
  if (bin_dir_.empty())
    throw std::runtime_error("PostgreSQL binaries not found under /usr/lib/postgresql/*/bin");
  as_postgres_user_ = RunningAsRoot();

  std::string tmpl = "/tmp/ktrack-pg-XXXXXX";
  if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
  dir_ = tmpl;
  if (as_postgres_user_) {
    // initdb refuses to run as root; the server's folder must belong to the user it runs as.
    passwd* pw = ::getpwnam("postgres");
    if (!pw || ::chown(dir_.c_str(), pw->pw_uid, pw->pw_gid) != 0) {
      throw std::runtime_error("cannot hand " + dir_ + " to the postgres user");
    }
  }
  auto as_server_user = [&](std::vector<std::string> argv) {
    if (as_postgres_user_) argv.insert(argv.begin(), {"runuser", "-u", "postgres", "--"});
    return argv;
  };

  // initdb takes seconds and every test process needs a cluster, so one pristine cluster is kept in /tmp per
  // PostgreSQL version and user, and copied (cp -a keeps its owner and modes).
  std::string data = dir_ + "/data";
  std::string pristine =
      "/tmp/ktrack-pg-initdb-v" + std::to_string(version) + "-uid" + std::to_string(::geteuid());
  if (!fs::exists(pristine + "/PG_VERSION")) {
    std::string building = dir_ + "/pristine";
    std::string initdb_log = dir_ + "/initdb.log";
    if (Run(as_server_user({bin_dir_ + "/initdb", "-D", building, "-U", user_, "--auth=trust", "-E", "UTF8",
                            "--no-locale", "--no-sync"}),
            initdb_log) != 0) {
      throw std::runtime_error("initdb failed:\n" + ReadFile(initdb_log));
    }
    std::error_code ec;
    fs::rename(building, pristine, ec);  // atomic; if another process won the race, use its copy
    if (ec) fs::remove_all(building, ec);
  }
  if (Run({"cp", "-a", pristine, data}, dir_ + "/cp.log") != 0) {
    throw std::runtime_error("copying the initdb cluster failed:\n" + ReadFile(dir_ + "/cp.log"));
  }
  {
    std::ofstream conf(data + "/postgresql.conf", std::ios::app);
    conf << "\n# ktrack tests: loopback only, fast and not durable\n"
         << "listen_addresses = '127.0.0.1'\n"
         << "unix_socket_directories = '" << dir_ << "'\n"
         << "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
         << "max_connections = 200\nshared_buffers = 32MB\n";
  }
  std::string server_log = dir_ + "/server.log";
  std::string ctl_log = dir_ + "/pg_ctl.log";
  for (int attempt = 1;; ++attempt) {
    port_ = FreeLoopbackPort();
    int rc = Run(as_server_user({bin_dir_ + "/pg_ctl", "-D", data, "-l", server_log, "-w", "-t", "60", "-o",
                                 "-p " + std::to_string(port_), "start"}),
                 ctl_log);
    if (rc == 0) break;
    if (attempt >= 3) {
      throw std::runtime_error("pg_ctl start failed:\n" + ReadFile(ctl_log) + "\n" + ReadFile(server_log));
    }
  }
  running_ = true;

  // The watchdog waits for this process to go (its end of the pipe closes), then stops the server and cleans
  // up.
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) == 0) {
    std::string stop = (as_postgres_user_ ? "runuser -u postgres -- " : "") +
                       ShellQuote(bin_dir_ + "/pg_ctl") + " -D " + ShellQuote(data) + " -m immediate stop";
    std::string script = "cat >/dev/null; " + stop + " >/dev/null 2>&1; rm -rf " + ShellQuote(dir_);
    pid_t pid = ::fork();
    if (pid == 0) {
      ::setsid();
      ::dup2(fds[0], 0);
      int null_fd = ::open("/dev/null", O_WRONLY);
      ::dup2(null_fd, 1);
      ::dup2(null_fd, 2);
      ::execl("/bin/sh", "sh", "-c", script.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    ::close(fds[0]);
    watchdog_fd_ = fds[1];
  }

  CreateDatabase("ktrack_test");
}

std::string PostgresServer::UrlFor(const std::string& database) const {
  if (!external_url_.empty()) {
    std::string base = external_url_.substr(0, external_url_.find('?'));
    size_t authority = base.find("://");
    size_t path = base.find('/', authority == std::string::npos ? 0 : authority + 3);
    return base.substr(0, path) + "/" + database;
  }
  return "postgresql://" + user_ + "@" + host_ + ":" + std::to_string(port_) + "/" + database;
}

std::string PostgresServer::CreateDatabase(const std::string& requested) {
  if (requested.empty() || !std::all_of(requested.begin(), requested.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
      })) {
    throw std::invalid_argument("database names for tests are [a-z0-9_]+: " + requested);
  }
  // On a shared server, test processes run side by side: the process id keeps their databases apart.
  std::string name = requested;
  if (!external_url_.empty() && name != DefaultDatabase()) {
    std::string pid = std::to_string(::getpid());
    name = requested.substr(0, 62 - pid.size()) + "_" + pid;
  }
  std::string psql = bin_dir_.empty() ? FindBinDir(nullptr) + "/psql" : bin_dir_ + "/psql";
  if (!fs::exists(psql)) psql = "psql";
  // FILE_COPY is quick with fsync off (the default WAL_LOG strategy writes the template into the WAL).
  std::string create = "CREATE DATABASE " + name;
  if (external_url_.empty()) {
    int version = 0;
    FindBinDir(&version);
    if (version >= 15) create += " STRATEGY = FILE_COPY";
  }
  std::string log = (dir_.empty() ? fs::temp_directory_path().string() : dir_) + "/psql-" + name + ".log";
  int rc = Run({psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", UrlFor("postgres"), "-c",
                "DROP DATABASE IF EXISTS " + name + " WITH (FORCE)", "-c", create},
               log);
  std::string output = ReadFile(log);
  std::error_code ec;
  fs::remove(log, ec);
  if (rc != 0) throw std::runtime_error("creating database " + name + " failed:\n" + output);
  return UrlFor(name);
}

void PostgresServer::Stop() {
  if (!running_) return;
  running_ = false;
  if (external_url_.empty()) {
    std::vector<std::string> argv = {bin_dir_ + "/pg_ctl", "-D", dir_ + "/data", "-m", "fast", "-w", "stop"};
    if (as_postgres_user_) argv.insert(argv.begin(), {"runuser", "-u", "postgres", "--"});
    Run(argv, "/dev/null");
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  if (watchdog_fd_ >= 0) {
    ::close(watchdog_fd_);
    watchdog_fd_ = -1;
  }
}

PostgresServer::~PostgresServer() {
  Stop();
}

}  // namespace kt::testing
