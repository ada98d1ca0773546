// Names the calling thread (as `top -H`, `ps -L`, perf and gdb show it), so an operator can tell the I/O
// threads, job workers, inbox committer and checkpointer apart.
#pragma once

#include <string>
#include <string_view>

namespace kt {

// Linux keeps at most 15 bytes of a thread's name; longer names are cut there.
void SetThreadName(std::string_view name);
// The calling thread's name ("" where it cannot be read).
std::string ThreadName();

}  // namespace kt
