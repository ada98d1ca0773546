// This machine's processes, as ids written into the store ("<pid>-..."), e.g. a job's worker or an event's
// claim.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace kt {

// This machine's host name, which ids written by its processes carry before their process id.
std::string HostName();

// "<host>-<pid>-": how an id written by this process begins (a job's worker after its name, a lease's holder,
// a webhook event's claim), so that a process started later can tell whether its writer is gone.
std::string ProcessTag();

// Whether `id`, "<prefix><host>-<pid>-...", was written by a process of this machine that is gone. An id of
// another host, of a live process or of another shape is not.
bool WrittenByAProcessGoneFromHere(std::string_view id, std::string_view prefix = {});

// The process id at the start of `text` ("1234-..." → 1234), if there is one followed by '-'.
std::optional<int64_t> LeadingProcessId(std::string_view text);

// True only when no process of this id exists here (kill(pid, 0) answers ESRCH): a process that is alive, or
// that this one may not signal, is not gone. This process is never gone.
bool ProcessIsGone(int64_t pid);

}  // namespace kt
