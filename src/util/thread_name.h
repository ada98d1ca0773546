// Names the calling thread (as `top -H`, `ps -L`, perf and gdb show it), so an operator can tell the I/O
// threads, job workers, inbox committer and checkpointer apart; and sets its CPU priority.
#pragma once

#include <string>
#include <string_view>

namespace kt {

// Linux keeps at most 15 bytes of a thread's name; longer names are cut there.
void SetThreadName(std::string_view name);
// The calling thread's name ("" where it cannot be read).
std::string ThreadName();

// Sets the calling thread's nice value (Linux keeps one per thread; threads it starts inherit it). Raising it
// (a lower priority) needs no privilege; lowering it again does, so a thread niced stays so. False when the
// kernel refused.
bool SetThreadNice(int nice);
// The calling thread's nice value.
int ThreadNice();

}  // namespace kt
