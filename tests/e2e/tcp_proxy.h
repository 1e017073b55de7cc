// A loopback TCP proxy for fault tests: listens on 127.0.0.1 port 0 and
// forwards every connection to 127.0.0.1:target_port, until a test tells it
// to fail in one of the ways a network path fails:
//   pass()    forward (the default; also ends silent and refuse)
//   silent()  hold every byte both ways and close nothing: new connections
//             are accepted and never answered, open ones stop moving (a
//             failover's vanished primary, an expired NAT entry)
//   refuse()  reset every new connection at once, and keep open ones going
//   cut()     reset every open connection now (new ones go on as before)
// Thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace e2e {

class TcpProxy {
 public:
  explicit TcpProxy(uint16_t target_port);
  ~TcpProxy();
  TcpProxy(const TcpProxy&) = delete;
  TcpProxy& operator=(const TcpProxy&) = delete;

  uint16_t port() const { return port_; }
  void pass() { mode_ = Mode::kPass; }
  void silent() { mode_ = Mode::kSilent; }
  void refuse() { mode_ = Mode::kRefuse; }
  void cut();
  // Connections accepted so far.
  int accepted() const { return accepted_; }

 private:
  enum class Mode { kPass, kSilent, kRefuse };
  struct Pair {
    int client = -1;
    int server = -1;
    std::atomic<bool> done{false};
    std::thread pump;
  };
  void accept_loop();
  void pump(Pair* p);
  void reap();

  const uint16_t target_port_;
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<Mode> mode_{Mode::kPass};
  std::atomic<bool> stopping_{false};
  std::atomic<int> accepted_{0};
  std::atomic<uint64_t> cut_generation_{0};
  std::mutex mu_;  // guards pairs_
  std::vector<std::unique_ptr<Pair>> pairs_;
  std::thread accept_thread_;
};

}  // namespace e2e
