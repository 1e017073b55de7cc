// The config file the Debian package installs (packaging/growhook.toml):
// it names every flag of `growhook serve`, so that a new flag cannot be
// forgotten there, and growhook accepts it with every key set.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "e2e/harness.h"

namespace e2e {
namespace {

const std::string kConfig = std::string(GROWHOOK_SOURCE_DIR) + "/packaging/growhook.toml";

std::vector<std::string> lines_of(const std::string& path) {
  std::ifstream f(path);
  std::vector<std::string> out;
  for (std::string line; std::getline(f, line);) out.push_back(line);
  return out;
}

// "key = value" lines, commented out or not.
std::set<std::string> keys_of(const std::vector<std::string>& lines) {
  std::set<std::string> keys;
  std::regex key("^(# )?([a-z][a-z-]*) = .*");
  std::smatch m;
  for (const auto& l : lines)
    if (std::regex_match(l, m, key)) keys.insert(m[2]);
  return keys;
}

TEST(ConfigFile, ThePackagedConfigNamesEveryFlagOfServe) {
  GROWHOOK_E2E_SQLITE_ONLY("one run is enough; it starts no store");
  auto help = run_command({GROWHOOK_BINARY, "serve", "--help"});
  ASSERT_EQ(help.exit_code, 0) << help.output;
  std::set<std::string> flags;
  std::regex flag("\\s--([a-z][a-z-]+)");
  for (auto it = std::sregex_iterator(help.output.begin(), help.output.end(), flag); it != std::sregex_iterator();
       ++it) {
    flags.insert((*it)[1]);
  }
  for (const char* not_a_setting : {"help", "config", "version"}) flags.erase(not_a_setting);
  ASSERT_GT(flags.size(), 10u) << help.output;
  auto keys = keys_of(lines_of(kConfig));
  for (const auto& f : flags) {
    EXPECT_TRUE(keys.count(f)) << "--" << f << " of growhook serve is missing from packaging/growhook.toml: add it, "
                                  "commented out with its default and what it does";
  }
  for (const auto& k : keys) EXPECT_TRUE(flags.count(k)) << "packaging/growhook.toml sets " << k << ", not a flag";
}

TEST(ConfigFile, GrowhookStartsWithEveryKeySetAndRefusesAnUnknownOne) {
  GROWHOOK_E2E_SQLITE_ONLY("the file is the same on both stores");
  char tmpl[] = "/tmp/growhook-config.XXXXXX";
  const std::string dir = mkdtemp(tmpl);
  std::ostringstream all;
  for (auto line : lines_of(kConfig)) {
    // Every key uncommented but the database (no PostgreSQL here).
    if (line.rfind("# ", 0) == 0 && std::regex_match(line, std::regex("# [a-z][a-z-]* = .*")) &&
        line.rfind("# database", 0) != 0) {
      line = line.substr(2);
    }
    all << line << "\n";
  }
  const std::string file = dir + "/growhook.toml";
  std::ofstream(file) << all.str();
  {
    // The harness's --listen and --data-dir on the command line take
    // precedence over the file's.
    // (platform-webhook-url needs its secret; nothing is sent: no webhook here.)
    Server s({"--config", file}, "", {{"GROWHOOK_PLATFORM_WEBHOOK_SECRET", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}});
    EXPECT_EQ(http("GET", s.base() + "/readyz").status, 200);
  }
  std::ofstream(file, std::ios::app) << "no-such-flag = 1\n";
  auto bad = run_command({GROWHOOK_BINARY, "serve", "--config", file, "--listen", "127.0.0.1:0", "--data-dir", dir},
                         {{"GROWHOOK_PLATFORM_TOKEN", kPlatformToken}}, std::chrono::seconds(20));
  EXPECT_NE(bad.exit_code, 0) << bad.output;
  EXPECT_NE(bad.output.find("no-such-flag"), std::string::npos) << bad.output;
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace e2e
