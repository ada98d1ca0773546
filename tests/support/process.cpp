// Child processes, ktrack commands run to completion, and temporary directories for tests.
#include "process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <thread>

#include <gtest/gtest.h>

namespace kt::testing {

// Test binaries are built into the same bin/ folder as ktrack and procore-emulator, so without
// KTRACK_BIN_DIR the running test's own folder is the answer.
std::string BinPath(const std::string& name) {
  if (const char* dir = std::getenv("KTRACK_BIN_DIR"); dir && *dir) return std::string(dir) + "/" + name;
  std::error_code ec;
  auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  return (ec ? std::filesystem::path("build/bin") : self.parent_path()).string() + "/" + name;
}

std::string SharedDir() {
  if (const char* dir = std::getenv("KTRACK_SHARED_DIR"); dir && *dir) return dir;
  return KTRACK_DEFAULT_SHARED_DIR;
}

std::string RunKtrack(const std::vector<std::string>& args, const std::string& data_dir) {
  std::string cmd = BinPath("ktrack");
  for (const auto& a : args) cmd += " '" + a + "'";
  cmd += " --data-dir '" + data_dir + "' 2>/dev/null";
  FILE* p = popen(cmd.c_str(), "r");
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  EXPECT_EQ(pclose(p), 0) << cmd << "\n" << out;
  return out;
}

ChildProcess::~ChildProcess() {
  if (pid_ > 0 && !exited_) {
    ::kill(pid_, SIGKILL);
    int st;
    ::waitpid(pid_, &st, 0);
  }
  if (stdout_fd_ >= 0) ::close(stdout_fd_);
}

ChildProcess::ChildProcess(ChildProcess&& o) noexcept {
  *this = std::move(o);
}
ChildProcess& ChildProcess::operator=(ChildProcess&& o) noexcept {
  std::swap(pid_, o.pid_);
  std::swap(stdout_fd_, o.stdout_fd_);
  std::swap(stdout_, o.stdout_);
  std::swap(exited_, o.exited_);
  std::swap(status_, o.status_);
  return *this;
}

void ChildProcess::Start(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env,
                         const std::string& stderr_path) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
  pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    ::dup2(fds[1], 1);
    if (!stderr_path.empty()) {
      int fd = ::open(stderr_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      if (fd >= 0) ::dup2(fd, 2);
    }
    for (const auto& [k, v] : env) ::setenv(k.c_str(), v.c_str(), 1);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    std::fprintf(stderr, "exec %s failed: %s\n", args[0], std::strerror(errno));
    ::_exit(127);
  }
  ::close(fds[1]);
  pid_ = pid;
  stdout_fd_ = fds[0];
  exited_ = false;
  stdout_.clear();
}

std::string ChildProcess::WaitForListening(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  const std::string marker = "listening on ";
  while (true) {
    size_t pos = stdout_.find(marker);
    if (pos != std::string::npos) {
      size_t end = stdout_.find('\n', pos);
      if (end != std::string::npos) return stdout_.substr(pos + marker.size(), end - pos - marker.size());
    }
    auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0)
      throw std::runtime_error("timed out waiting for 'listening on'; stdout: " + stdout_);
    pollfd p{stdout_fd_, POLLIN, 0};
    int r = ::poll(&p, 1, static_cast<int>(std::min<int64_t>(left.count(), 200)));
    if (r > 0) {
      char buf[4096];
      ssize_t n = ::read(stdout_fd_, buf, sizeof buf);
      if (n > 0) {
        stdout_.append(buf, static_cast<size_t>(n));
        continue;
      }
      if (n == 0) throw std::runtime_error("process exited before listening; stdout: " + stdout_);
    }
  }
}

void ChildProcess::Signal(int sig) {
  if (pid_ > 0 && !exited_) ::kill(pid_, sig);
}

bool ChildProcess::Running() {
  if (pid_ <= 0 || exited_) return false;
  int st;
  pid_t r = ::waitpid(pid_, &st, WNOHANG);
  if (r == pid_) {
    exited_ = true;
    status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    return false;
  }
  return true;
}

int ChildProcess::Wait(std::chrono::milliseconds timeout) {
  if (pid_ <= 0) return -1;
  if (exited_) return status_;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (!Running()) return status_;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ::kill(pid_, SIGKILL);
  int st;
  ::waitpid(pid_, &st, 0);
  exited_ = true;
  status_ = 128 + SIGKILL;
  return status_;
}

TempDir::TempDir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "ktrack-test-XXXXXX").string();
  if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

}  // namespace kt::testing
