#include "delivery/curl_epoll.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <stdexcept>
#include <string>

namespace growhook {
namespace {

constexpr int kEpollBatch = 256;  // ready sockets taken per wait

int64_t steady_ms() {
  // The clock curl's own timeouts run on.
  using namespace std::chrono;
  return duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
}

}  // namespace

CurlEpoll::CurlEpoll(CURLM* multi) : multi_(multi) {
  epoll_ = epoll_create1(EPOLL_CLOEXEC);
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = wake_fd_;
  if (epoll_ < 0 || wake_fd_ < 0 || epoll_ctl(epoll_, EPOLL_CTL_ADD, wake_fd_, &ev) != 0) {
    std::string why = strerror(errno);
    if (wake_fd_ >= 0) close(wake_fd_);
    if (epoll_ >= 0) close(epoll_);
    throw std::runtime_error("epoll for the HTTP client: " + why);
  }
  curl_multi_setopt(multi_, CURLMOPT_SOCKETFUNCTION, &CurlEpoll::on_socket);
  curl_multi_setopt(multi_, CURLMOPT_SOCKETDATA, this);
  curl_multi_setopt(multi_, CURLMOPT_TIMERFUNCTION, &CurlEpoll::on_timer);
  curl_multi_setopt(multi_, CURLMOPT_TIMERDATA, this);
}

CurlEpoll::~CurlEpoll() {
  close(wake_fd_);
  close(epoll_);
}

void CurlEpoll::run_timer_if_due(int64_t now_ms) {
  if (timer_at_ms_ < 0 || now_ms < timer_at_ms_) return;
  timer_at_ms_ = -1;  // curl sets it again from inside, when it wants one
  int running = 0;
  curl_multi_socket_action(multi_, CURL_SOCKET_TIMEOUT, 0, &running);
}

void CurlEpoll::wait(int64_t max_wait_ms) {
  int64_t wait = max_wait_ms;
  if (timer_at_ms_ >= 0) wait = std::min(wait, std::max<int64_t>(0, timer_at_ms_ - steady_ms()));
  epoll_event events[kEpollBatch];
  int n = epoll_wait(epoll_, events, kEpollBatch, static_cast<int>(wait));
  for (int i = 0; i < n; ++i) {
    if (events[i].data.fd == wake_fd_) {
      uint64_t count;
      while (read(wake_fd_, &count, sizeof count) > 0) {
      }
      continue;
    }
    int mask = 0;
    if (events[i].events & EPOLLIN) mask |= CURL_CSELECT_IN;
    if (events[i].events & EPOLLOUT) mask |= CURL_CSELECT_OUT;
    if (events[i].events & (EPOLLERR | EPOLLHUP)) mask |= CURL_CSELECT_ERR;
    int running = 0;
    curl_multi_socket_action(multi_, events[i].data.fd, mask, &running);
  }
}

void CurlEpoll::wake() {
  uint64_t one = 1;
  // Fails only when the counter is full: a wake-up is pending anyway.
  [[maybe_unused]] ssize_t w = write(wake_fd_, &one, sizeof one);
}

int CurlEpoll::on_socket(CURL*, curl_socket_t fd, int what, void* self_p, void*) {
  auto* self = static_cast<CurlEpoll*>(self_p);
  if (what == CURL_POLL_REMOVE) {
    epoll_ctl(self->epoll_, EPOLL_CTL_DEL, fd, nullptr);
    return 0;
  }
  epoll_event ev{};
  ev.data.fd = fd;
  if (what & CURL_POLL_IN) ev.events |= EPOLLIN;
  if (what & CURL_POLL_OUT) ev.events |= EPOLLOUT;
  // A socket curl has not told us of yet (or whose number a closed one had).
  if (epoll_ctl(self->epoll_, EPOLL_CTL_MOD, fd, &ev) != 0 && errno == ENOENT) {
    epoll_ctl(self->epoll_, EPOLL_CTL_ADD, fd, &ev);
  }
  return 0;
}

int CurlEpoll::on_timer(CURLM*, long timeout_ms, void* self_p) {
  auto* self = static_cast<CurlEpoll*>(self_p);
  self->timer_at_ms_ = timeout_ms < 0 ? -1 : steady_ms() + timeout_ms;
  return 0;
}

}  // namespace growhook
