// `ktrack`'s answers to command lines that name no command: what is wrong, what the commands are, where help
// is.
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <cstdio>
#include <string>

#include "process.h"

namespace kt::testing {
namespace {

struct Ran {
  int exit_code = -1;
  std::string output;  // standard output and error
};

Ran RunKtrackArgs(const std::string& args) {
  Ran ran;
  FILE* p = popen((BinPath("ktrack") + " " + args + " 2>&1").c_str(), "r");
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
  EXPECT_NE(nested.output.find("'remove' is not a command of ktrack client. Commands: add."),
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

}  // namespace
}  // namespace kt::testing
