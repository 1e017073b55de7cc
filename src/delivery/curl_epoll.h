// Drives a libcurl multi handle from epoll: curl says which sockets to
// watch (CURLMOPT_SOCKETFUNCTION) and when to call it back
// (CURLMOPT_TIMERFUNCTION); wait() hands curl only the sockets that are
// ready (curl_multi_socket_action). A pass then costs what happened, not
// every open connection: curl_multi_poll and curl_multi_perform polled and
// walked all of them each pass, and a few hundred receivers that hang (each
// holding a connection for its whole timeout) made every other request pay
// for them (issue 12).
//
// Threads: everything but wake() runs on the thread that drives the multi
// handle; wake() may be called from any thread.
#pragma once

#include <curl/curl.h>

#include <cstdint>

namespace growhook {

class CurlEpoll {
 public:
  // Installs its callbacks on multi. curl_multi_cleanup still calls them:
  // clean the multi handle up before this is destroyed.
  explicit CurlEpoll(CURLM* multi);
  ~CurlEpoll();
  CurlEpoll(const CurlEpoll&) = delete;
  CurlEpoll& operator=(const CurlEpoll&) = delete;

  // Runs curl's timer when it is due (new transfers start from there).
  void run_timer_if_due(int64_t now_ms);
  // Waits at most max_wait_ms (less when curl's timer is due sooner), until
  // a socket is ready or wake() is called, and hands curl the ready sockets.
  void wait(int64_t max_wait_ms);
  // Ends a wait() now, or the next one at once.
  void wake();

 private:
  static int on_socket(CURL*, curl_socket_t fd, int what, void* self, void*);
  static int on_timer(CURLM*, long timeout_ms, void* self);

  CURLM* multi_;
  int epoll_ = -1;
  int wake_fd_ = -1;        // an eventfd in epoll_
  int64_t timer_at_ms_ = -1;  // when curl wants CURL_SOCKET_TIMEOUT; -1: never
};

}  // namespace growhook
