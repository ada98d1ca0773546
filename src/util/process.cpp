// This machine's processes.
#include "util/process.h"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>

namespace kt {

std::string HostName() {
  char host[256] = {0};
  ::gethostname(host, sizeof host - 1);
  return host;
}

std::string ProcessTag() {
  return HostName() + "-" + std::to_string(::getpid()) + "-";
}

bool WrittenByAProcessGoneFromHere(std::string_view id, std::string_view prefix) {
  const std::string here = std::string(prefix) + HostName() + "-";
  if (id.substr(0, here.size()) != here) return false;
  const auto pid = LeadingProcessId(id.substr(here.size()));
  return pid && ProcessIsGone(*pid);
}

std::optional<int64_t> LeadingProcessId(std::string_view text) {
  int64_t pid = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), pid);
  if (ec != std::errc() || end == text.data() || end == text.data() + text.size() || *end != '-' || pid <= 0)
    return std::nullopt;
  return pid;
}

bool ProcessIsGone(int64_t pid) {
  if (pid <= 0 || pid == ::getpid()) return false;
  return ::kill(static_cast<pid_t>(pid), 0) == -1 && errno == ESRCH;
}

}  // namespace kt
