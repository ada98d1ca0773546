#include "util/thread_name.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <thread>

namespace kt {
namespace {

// The name a new thread reads back after naming itself `name`.
std::string NameSeenBy(std::string_view name) {
  std::string seen;
  std::thread t([&] {
    SetThreadName(name);
    seen = ThreadName();
  });
  t.join();
  return seen;
}

TEST(ThreadName, NamesTheCallingThreadOnly) {
  const std::string before = ThreadName();
  EXPECT_EQ(NameSeenBy("kt-test-worker"), "kt-test-worker");
  EXPECT_EQ(ThreadName(), before);
}

TEST(ThreadName, CutsLongNamesAtTheKernelLimit) {
  EXPECT_EQ(NameSeenBy("kt-a-name-much-longer-than-fifteen-bytes"), "kt-a-name-much-");
}

}  // namespace
}  // namespace kt
