// Test support: start one of our binaries as a child process, read its "listening on" line, stop it; run a
// ktrack command to completion.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <string>
#include <vector>

namespace kt::testing {

// Path of a built binary (build/bin/NAME), from KTRACK_BIN_DIR.
std::string BinPath(const std::string& name);
// The shared/ folder (contract files, docs).
std::string SharedDir();

// Runs a ktrack command against a data directory to completion and returns its standard output (its standard
// error is discarded); a non-zero exit is a test failure naming the command and its output.
std::string RunKtrack(const std::vector<std::string>& args, const std::string& data_dir);

class ChildProcess {
 public:
  ChildProcess() = default;
  ~ChildProcess();  // SIGKILLs a child still running
  ChildProcess(ChildProcess&&) noexcept;
  ChildProcess& operator=(ChildProcess&&) noexcept;

  // Starts argv[0] with the arguments and extra environment. Stdout is read by WaitForListening;
  // stderr goes to stderr_path (or is inherited when empty).
  void Start(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env = {},
             const std::string& stderr_path = {});
  // Reads stdout until "listening on http://HOST:PORT"; returns "http://HOST:PORT". Throws on timeout/exit.
  std::string WaitForListening(std::chrono::milliseconds timeout = std::chrono::seconds(30));
  void Signal(int sig);
  // Waits for the exit; returns the exit status (or 128+signal).
  int Wait(std::chrono::milliseconds timeout = std::chrono::seconds(30));
  void Kill() {
    Signal(9);
    Wait();
  }
  bool Running();
  pid_t pid() const { return pid_; }
  // Everything read from stdout so far.
  const std::string& Stdout() const { return stdout_; }

 private:
  pid_t pid_ = -1;
  int stdout_fd_ = -1;
  std::string stdout_;
  bool exited_ = false;
  int status_ = 0;
};

// A temporary directory removed (recursively) when the object goes away.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace kt::testing
