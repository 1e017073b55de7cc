// End-to-end: the README's "First steps" shell block, run as written
// against a real growhook. Only its three settings lines are given this
// run's values, the way a reader sets them (GROWHOOK=, TOKEN=,
// RECEIVER_PORT=); every other line runs literally, under `set -euo
// pipefail`, with curl made to fail on any answer that is not 2xx and to
// report each status. The block's receiver (the Python example) must then
// log the event, verified. Everything stays on 127.0.0.1.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "e2e/harness.h"

namespace e2e {
namespace {

std::string read_file(const std::string& path) {
  std::ifstream f(path);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

// The first ```sh block after the "## First steps" heading.
std::string first_steps_block(const std::string& readme) {
  auto section = readme.find("\n## First steps");
  if (section == std::string::npos) return "";
  auto open = readme.find("```sh\n", section);
  auto close = open == std::string::npos ? open : readme.find("\n```", open + 6);
  if (close == std::string::npos) return "";
  return readme.substr(open + 6, close - open - 6 + 1);
}

// Replaces the one line "NAME=…" (with its comment) by "NAME=value";
// false when there is not exactly one.
bool set_line(std::string& block, const std::string& name, const std::string& value) {
  std::regex line("(^|\n)" + name + "=[^\n]*");
  auto n = std::distance(std::sregex_iterator(block.begin(), block.end(), line), std::sregex_iterator());
  if (n != 1) return false;
  block = std::regex_replace(block, line, "$1" + name + "=" + value);
  return true;
}

uint16_t free_port() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  close(fd);
  return ntohs(a.sin_port);
}

// bash running a script in a process group of its own (the block starts a
// receiver in the background); its output and its children's on one pipe.
class Shell {
 public:
  Shell(const std::string& script, const std::string& cwd, const std::string& path_prefix) {
    int p[2];
    if (pipe(p) != 0) throw std::runtime_error("pipe");
    pid_ = fork();
    if (pid_ == 0) {
      setpgid(0, 0);
      dup2(p[1], 1);
      dup2(p[1], 2);
      close(p[0]);
      close(p[1]);
      if (chdir(cwd.c_str()) != 0) _exit(126);
      setenv("PATH", (path_prefix + ":" + std::getenv("PATH")).c_str(), 1);
      execl("/bin/bash", "bash", "-c", script.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    setpgid(pid_, pid_);
    close(p[1]);
    fd_ = p[0];
  }
  ~Shell() {
    ::kill(-pid_, SIGKILL);
    if (!exited_) waitpid(pid_, nullptr, 0);
    close(fd_);
  }
  // Reads output until bash exits; returns its exit code.
  int wait_exit(std::chrono::seconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      read_some(100);
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        exited_ = true;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
    }
    return -1;
  }
  // Reads output (the background receiver's too) until pred holds.
  bool wait_output(const std::function<bool(const std::string&)>& pred, std::chrono::seconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!pred(out_)) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      read_some(100);
    }
    return true;
  }
  const std::string& output() const { return out_; }

 private:
  void read_some(int ms) {
    pollfd pfd{fd_, POLLIN, 0};
    if (poll(&pfd, 1, ms) > 0) {
      char buf[4096];
      ssize_t n = read(fd_, buf, sizeof buf);
      if (n > 0) out_.append(buf, static_cast<size_t>(n));
    }
  }
  pid_t pid_ = -1;
  int fd_ = -1;
  bool exited_ = false;
  std::string out_;
};

TEST(Readme, TheFirstStepsRunAsWrittenAndEveryCallAnswers2xx) {
  GROWHOOK_E2E_SQLITE_ONLY("the README's first steps start on the default store");
  const std::string root = GROWHOOK_SOURCE_DIR;
  std::string block = first_steps_block(read_file(root + "/README.md"));
  ASSERT_FALSE(block.empty()) << "README.md has no ```sh block under \"## First steps\"";

  Server server;  // as the README starts it: --allow-targets 127.0.0.0/8
  const uint16_t receiver_port = free_port();
  for (const auto& [name, value] : std::vector<std::pair<std::string, std::string>>{
           {"GROWHOOK", server.base()}, {"TOKEN", kPlatformToken}, {"RECEIVER_PORT", std::to_string(receiver_port)}}) {
    ASSERT_TRUE(set_line(block, name, value))
        << "the first steps must set " << name << "= on one line of its own, for the reader to fill in:\n" << block;
  }

  // curl as the reader runs it, but failing on any answer that is not 2xx
  // and reporting each status on stderr.
  char tmpl[] = "/tmp/growhook-readme.XXXXXX";
  const std::string bin = mkdtemp(tmpl);
  auto real_curl = run_command({"/usr/bin/env", "sh", "-c", "command -v curl"});
  ASSERT_EQ(real_curl.exit_code, 0) << "curl is missing";
  std::string curl_path = real_curl.output.substr(0, real_curl.output.find('\n'));
  std::ofstream(bin + "/curl") << "#!/bin/sh\nexec " << curl_path
                               << " --fail-with-body -w '%{stderr}first-steps: HTTP %{http_code}\\n' \"$@\"\n";
  std::filesystem::permissions(bin + "/curl", std::filesystem::perms::owner_all);

  Shell shell("set -euo pipefail\n" + block, root, bin);
  int code = shell.wait_exit(std::chrono::seconds(60));
  EXPECT_EQ(code, 0) << "the first steps failed:\n" << block << "\n--- output:\n" << shell.output();
  std::regex status("first-steps: HTTP (\\d+)");
  int calls = 0;
  for (auto it = std::sregex_iterator(shell.output().begin(), shell.output().end(), status);
       it != std::sregex_iterator(); ++it) {
    ++calls;
    int s = std::stoi((*it)[1]);
    EXPECT_TRUE(s >= 200 && s < 300) << "a call of the first steps answered " << s << ":\n" << shell.output();
  }
  EXPECT_GE(calls, 4) << "expected the account, the webhook, the event and the batches:\n" << shell.output();
  // The block's receiver verified the message and logged its event.
  EXPECT_TRUE(shell.wait_output(
      [](const std::string& out) { return out.find("msg=event") != std::string::npos; }, std::chrono::seconds(60)))
      << "the example receiver logged no event:\n" << shell.output();
  EXPECT_EQ(shell.output().find("msg=refused"), std::string::npos) << shell.output();
  std::filesystem::remove_all(bin);
}

}  // namespace
}  // namespace e2e
