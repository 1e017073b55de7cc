#include "store/pg_listener.h"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>

#include "common/thread_name.h"
#include "store/pg_conn.h"

namespace growhook::pg {
namespace {

constexpr int kFirstPauseMs = 100;
constexpr int kMaxPauseMs = 5'000;

int64_t mono_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

Listener::Listener(std::string url, std::string channel, const DbLimits& limits, std::function<void()> on_notify)
    : url_(std::move(url)), limits_(limits), channel_(std::move(channel)), on_notify_(std::move(on_notify)) {
  if (::pipe2(stop_pipe_, O_CLOEXEC | O_NONBLOCK) != 0) {
    stop_pipe_[0] = stop_pipe_[1] = -1;
    return;  // no listener: nodes still find work by polling
  }
  thread_ = std::thread([this] {
    name_this_thread("gh-pg-listen");
    run();
  });
}

Listener::~Listener() {
  stopping_ = true;
  if (stop_pipe_[1] >= 0) {
    char b = 1;
    (void)!::write(stop_pipe_[1], &b, 1);
  }
  if (thread_.joinable()) thread_.join();
  for (int fd : stop_pipe_) {
    if (fd >= 0) ::close(fd);
  }
}

int Listener::wait(int fd, short events, int timeout_ms) {
  pollfd fds[2] = {{stop_pipe_[0], POLLIN, 0}, {fd, events, 0}};
  int n = fd >= 0 ? 2 : 1;
  while (true) {
    if (stopping_) return -1;
    int rc = ::poll(fds, static_cast<nfds_t>(n), timeout_ms);
    if (rc < 0 && errno == EINTR) continue;
    if (stopping_ || (fds[0].revents & POLLIN)) return -1;
    if (rc == 0) return 0;
    return 1;  // ready, or an error condition that the next libpq call reports
  }
}

void Listener::run() {
  int pause_ms = kFirstPauseMs;
  while (!stopping_) {
    PGconn* c = connect_and_listen();
    if (c == nullptr) {
      if (wait(-1, 0, pause_ms) < 0) return;
      pause_ms = std::min(pause_ms * 2, kMaxPauseMs);
      continue;
    }
    pause_ms = kFirstPauseMs;
    on_notify_();  // whatever was committed while we were not listening
    listen_until_dropped(c);
    PQfinish(c);
  }
}

PGconn* Listener::connect_and_listen() {
  auto o = Conn::options_for(url_, limits_);
  const int kConnectTimeoutMs = limits_.timeout_ms > 0 ? static_cast<int>(limits_.timeout_ms) : 10'000;
  PGconn* c = PQconnectStartParams(o.keywords.data(), o.values.data(), /*expand_dbname=*/1);
  if (c == nullptr) return nullptr;
  PQsetNoticeProcessor(c, &ignore_notice, nullptr);
  int64_t deadline = mono_ms() + kConnectTimeoutMs;
  PostgresPollingStatusType st = PGRES_POLLING_WRITING;
  while (PQstatus(c) != CONNECTION_BAD && st != PGRES_POLLING_OK && st != PGRES_POLLING_FAILED) {
    int left = static_cast<int>(deadline - mono_ms());
    short events = st == PGRES_POLLING_READING ? POLLIN : POLLOUT;
    if (left <= 0 || wait(PQsocket(c), events, left) <= 0) break;
    st = PQconnectPoll(c);
  }
  if (st != PGRES_POLLING_OK || PQstatus(c) != CONNECTION_OK) {
    PQfinish(c);
    return nullptr;
  }
  // LISTEN without blocking, so that stopping stays prompt.
  std::string sql = "LISTEN " + channel_;
  bool ok = PQsendQuery(c, sql.c_str()) == 1;
  while (ok && PQisBusy(c)) {
    ok = wait(PQsocket(c), POLLIN, kConnectTimeoutMs) > 0 && PQconsumeInput(c) == 1;
  }
  while (PGresult* r = PQgetResult(c)) {
    ok = ok && PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
  }
  if (!ok) {
    PQfinish(c);
    return nullptr;
  }
  return c;
}

void Listener::listen_until_dropped(PGconn* c) {
  while (!stopping_ && PQstatus(c) == CONNECTION_OK) {
    // TCP keepalives (pg_conn's defaults) turn a dead peer into an error
    // here; a quiet spell twice the bound long is checked with a query.
    int quiet_ms = limits_.timeout_ms > 0 ? static_cast<int>(2 * limits_.timeout_ms) : -1;
    int ready = wait(PQsocket(c), POLLIN, quiet_ms);
    if (ready < 0) return;
    if (ready == 0 && !answers(c)) return;
    if (ready > 0 && PQconsumeInput(c) != 1) return;
    bool any = false;
    while (PGnotify* n = PQnotifies(c)) {
      any = true;
      PQfreemem(n);
    }
    if (any) on_notify_();
  }
}

bool Listener::answers(PGconn* c) {
  if (PQsendQuery(c, "") != 1) return false;
  int64_t deadline = mono_ms() + limits_.timeout_ms;
  while (PQisBusy(c)) {
    int left = static_cast<int>(deadline - mono_ms());
    if (left <= 0 || wait(PQsocket(c), POLLIN, left) <= 0 || PQconsumeInput(c) != 1) return false;
  }
  bool ok = true;
  while (PGresult* r = PQgetResult(c)) {
    ok = ok && PQresultStatus(r) == PGRES_EMPTY_QUERY;
    PQclear(r);
  }
  return ok;
}

}  // namespace growhook::pg
