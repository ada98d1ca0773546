#include "util/thread_name.h"

#include <pthread.h>
#include <sys/resource.h>
#include <unistd.h>

namespace kt {

namespace {
constexpr size_t kMaxNameBytes = 15;  // the kernel's TASK_COMM_LEN less the terminating NUL
}  // namespace

void SetThreadName(std::string_view name) {
  const std::string cut(name.substr(0, kMaxNameBytes));
  (void)pthread_setname_np(pthread_self(), cut.c_str());  // a name is a convenience: failure changes nothing
}

std::string ThreadName() {
  char buf[kMaxNameBytes + 1] = {};
  if (pthread_getname_np(pthread_self(), buf, sizeof buf) != 0) return {};
  return buf;
}

bool SetThreadNice(int nice) {
  // With PRIO_PROCESS and a thread id, Linux sets that one thread's value (man 2 setpriority, "BUGS").
  return setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), nice) == 0;
}

int ThreadNice() {
  // Cannot fail for the calling thread (so a -1 is a nice value, not an error).
  return getpriority(PRIO_PROCESS, static_cast<id_t>(gettid()));
}

}  // namespace kt
