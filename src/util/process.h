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

// The process id at the start of `text` ("1234-..." → 1234), if there is one followed by '-'.
std::optional<int64_t> LeadingProcessId(std::string_view text);

// True only when no process of this id exists here (kill(pid, 0) answers ESRCH): a process that is alive, or
// that this one may not signal, is not gone. This process is never gone.
bool ProcessIsGone(int64_t pid);

}  // namespace kt
