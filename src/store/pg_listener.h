// LISTEN on a PostgreSQL channel on a connection and thread of its own.
// Calls on_notify for every batch of notifications that arrives, and once
// after each (re)connection, because notifications sent while the
// connection was down are lost. Reconnects with a growing pause when the
// connection drops. Stops, promptly, when destroyed.
#pragma once

#include <libpq-fe.h>

#include <atomic>
#include <functional>
#include <string>
#include <thread>

#include "store/db_limits.h"

namespace growhook::pg {

class Listener {
 public:
  // on_notify runs on the listener's thread; it must be quick.
  // limits bound connecting and LISTEN; a connection that stays quiet is
  // checked with an empty query, so a silent path is noticed within about
  // twice the bound even where TCP keepalives are answered (a proxy).
  Listener(std::string url, std::string channel, const DbLimits& limits, std::function<void()> on_notify);
  ~Listener();
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;

 private:
  void run();
  PGconn* connect_and_listen();
  void listen_until_dropped(PGconn* c);
  // Waits for fd to be ready for events, for the stop pipe, or for
  // timeout_ms (-1: no timeout). 1: ready, 0: timed out, -1: stopping.
  int wait(int fd, short events, int timeout_ms);

  // Whether c still answers: an empty query within the bound.
  bool answers(PGconn* c);

  const std::string url_;
  const DbLimits limits_;
  const std::string channel_;
  const std::function<void()> on_notify_;
  int stop_pipe_[2] = {-1, -1};
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace growhook::pg
