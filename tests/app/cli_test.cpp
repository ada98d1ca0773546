// `ktrack`'s answers to command lines that name no command: what is wrong, what the commands are, where help
// is.
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "process.h"

namespace kt::testing {
namespace {

struct Ran {
  int exit_code = -1;
  std::string output;  // standard output and error
};

// `prefix` runs ktrack under another command (setpriv, to drop root).
Ran RunKtrackArgs(const std::string& args, const std::string& prefix = "") {
  Ran ran;
  FILE* p = popen((prefix + BinPath("ktrack") + " " + args + " 2>&1").c_str(), "r");
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) ran.output.append(buf, n);
  const int status = pclose(p);
  ran.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return ran;
}

TEST(KtrackCli, AnUnknownCommandIsNamedWithTheCommandsThereAre) {
  auto top = RunKtrackArgs("nope");
  EXPECT_NE(top.exit_code, 0);
  EXPECT_NE(
      top.output.find("'nope' is not a command of ktrack. Commands: serve, migrate, client, user, token"),
      std::string::npos)
      << top.output;
  EXPECT_NE(top.output.find("Run 'ktrack --help'"), std::string::npos) << top.output;

  auto nested = RunKtrackArgs("client remove");
  EXPECT_NE(nested.exit_code, 0);
  EXPECT_NE(nested.output.find("'remove' is not a command of ktrack client. Commands: add, list."),
            std::string::npos)
      << nested.output;
}

TEST(KtrackCli, ACommandThatNeedsAnotherSaysWhichThereAre) {
  auto none = RunKtrackArgs("");
  EXPECT_NE(none.exit_code, 0);
  EXPECT_NE(none.output.find("ktrack needs a command: serve, migrate"), std::string::npos) << none.output;
  auto keys = RunKtrackArgs("keys");
  EXPECT_NE(keys.exit_code, 0);
  EXPECT_NE(keys.output.find("ktrack keys needs a command: rotate."), std::string::npos) << keys.output;
  // A known command's own mistakes keep the message that names the option.
  auto option = RunKtrackArgs("client add");
  EXPECT_NE(option.exit_code, 0);
  EXPECT_NE(option.output.find("--name is required"), std::string::npos) << option.output;
}

// An operator who lost a client's id finds it, and `user add` with a wrong id says where to look.
TEST(KtrackCli, ClientListGivesTheIdsThatUserAddNeeds) {
  TempDir dir;
  const std::string data = " --data-dir " + dir.path();
  auto empty = RunKtrackArgs("client list" + data);
  EXPECT_EQ(empty.exit_code, 0) << empty.output;
  EXPECT_NE(empty.output.find("no clients yet"), std::string::npos) << empty.output;
  ASSERT_EQ(RunKtrackArgs("client add --name 'Zephyr Owners'" + data).exit_code, 0);
  ASSERT_EQ(RunKtrackArgs("client add --name 'Acme Builders'" + data).exit_code, 0);
  auto listed = RunKtrackArgs("client list --json" + data);
  ASSERT_EQ(listed.exit_code, 0) << listed.output;
  EXPECT_EQ(listed.output, "[{\"id\":2,\"name\":\"Acme Builders\"},{\"id\":1,\"name\":\"Zephyr Owners\"}]\n");
  auto text = RunKtrackArgs("client list" + data);
  EXPECT_EQ(text.output, "2\tAcme Builders\n1\tZephyr Owners\n");
  auto wrong = RunKtrackArgs("user add --client 7 --email dana@acme.test --password site-visit-42" + data);
  EXPECT_NE(wrong.exit_code, 0);
  EXPECT_NE(
      wrong.output.find("There is no client 7.\nRun 'ktrack client list' for the clients and their ids."),
      std::string::npos)
      << wrong.output;
}

// Started by another user than the one who owns the data directory: the message names the directory and
// the user, not an unusable database.
TEST(KtrackCli, ADataDirectoryThisUserCannotWriteIsNamed) {
  TempDir dir;
  ASSERT_EQ(::chmod(dir.path().c_str(), 0555), 0);
  // Root may write anywhere: run as nobody then (setpriv is util-linux's, on every Debian).
  const std::string prefix = ::geteuid() == 0 ? "setpriv --reuid=65534 --regid=65534 --clear-groups " : "";
  auto ran = RunKtrackArgs("migrate --data-dir " + dir.path(), prefix);
  ::chmod(dir.path().c_str(), 0755);
  if (ran.output.find("ktrack:") == std::string::npos && ran.exit_code == 126)
    GTEST_SKIP() << "uid 65534 cannot run this build's binary: " << ran.output;
  EXPECT_NE(ran.exit_code, 0);
  EXPECT_NE(ran.output.find("The data directory '" + dir.path() + "' is not writable by this user (uid "),
            std::string::npos)
      << ran.output;
  EXPECT_NE(ran.output.find("Run ktrack as the user who owns it"), std::string::npos) << ran.output;
}

}  // namespace
}  // namespace kt::testing
