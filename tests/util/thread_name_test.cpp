#include "util/thread_name.h"

#include <gtest/gtest.h>

#include <thread>

namespace kt {
namespace {

TEST(ThreadName, NamesTheCallingThreadOnly) {
  const std::string before = ThreadName();
  std::string inside;
  std::thread t([&] {
    SetThreadName("kt-test-worker");
    inside = ThreadName();
  });
  t.join();
  EXPECT_EQ(inside, "kt-test-worker");
  EXPECT_EQ(ThreadName(), before);
}

TEST(ThreadName, CutsLongNamesAtTheKernelLimit) {
  std::string inside;
  std::thread t([&] {
    SetThreadName("kt-a-name-much-longer-than-fifteen-bytes");
    inside = ThreadName();
  });
  t.join();
  EXPECT_EQ(inside, "kt-a-name-much-");
}

}  // namespace
}  // namespace kt
