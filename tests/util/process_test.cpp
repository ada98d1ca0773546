// Process ids written into the store, and whether their process is gone.
#include "util/process.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

namespace kt {
namespace {

TEST(Process, LeadingProcessIdReadsTheNumberBeforeTheFirstDash) {
  EXPECT_EQ(LeadingProcessId("1234-0"), 1234);
  EXPECT_EQ(LeadingProcessId("77-a1b2c3"), 77);
  EXPECT_FALSE(LeadingProcessId("1234"));  // no dash: not one of ours
  EXPECT_FALSE(LeadingProcessId("-12-0"));
  EXPECT_FALSE(LeadingProcessId("0-1"));
  EXPECT_FALSE(LeadingProcessId("a1b2c3"));  // an older claim token: random hex only
  EXPECT_FALSE(LeadingProcessId("12x-0"));
  EXPECT_FALSE(LeadingProcessId(""));
}

TEST(Process, OnlyAProcessThatNoLongerExistsIsGone) {
  EXPECT_FALSE(ProcessIsGone(::getpid()));
  EXPECT_FALSE(ProcessIsGone(::getppid()));
  EXPECT_FALSE(ProcessIsGone(0));
  const pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  ASSERT_GT(child, 0);
  EXPECT_FALSE(ProcessIsGone(child)) << "exited but not reaped: the id is still taken";
  ASSERT_EQ(::waitpid(child, nullptr, 0), child);
  EXPECT_TRUE(ProcessIsGone(child));
}

TEST(Process, AnIdIsOfAProcessGoneFromHereOnlyWithThisHostAndADeadPid) {
  const pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  ASSERT_GT(child, 0);
  ASSERT_EQ(::waitpid(child, nullptr, 0), child);
  const std::string here = HostName() + "-";
  EXPECT_EQ(ProcessTag(), here + std::to_string(::getpid()) + "-");
  EXPECT_TRUE(WrittenByAProcessGoneFromHere(here + std::to_string(child) + "-7"));
  EXPECT_TRUE(WrittenByAProcessGoneFromHere("worker-" + here + std::to_string(child) + "-0", "worker-"));
  EXPECT_FALSE(WrittenByAProcessGoneFromHere(here + std::to_string(child) + "-0", "worker-"));  // the prefix
  EXPECT_FALSE(WrittenByAProcessGoneFromHere("another-host-" + std::to_string(child) + "-7"));
  EXPECT_FALSE(WrittenByAProcessGoneFromHere(ProcessTag() + "7"));                         // this process
  EXPECT_FALSE(WrittenByAProcessGoneFromHere(here + std::to_string(::getppid()) + "-7"));  // alive
  EXPECT_FALSE(WrittenByAProcessGoneFromHere("0123456789ab"));  // a claim token of before: random hex only
}

}  // namespace
}  // namespace kt
