// End-to-end helpers for webhooks over HTTPS: throwaway certificates in a
// folder of the test's own, and a real HTTPS receiver (Node's https server
// with the npm standardwebhooks package, tests/e2e/https_receiver.mjs) on
// 127.0.0.1 port 0.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "support/test_certs.h"

namespace e2e {

// A temporary folder of PEM files: ca.pem (a test CA) and, per name given
// to add_server, NAME.crt and NAME.key. Removed at the end.
class CertFolder {
 public:
  CertFolder();
  ~CertFolder();
  const std::string& dir() const { return dir_; }
  std::string ca_file() const { return dir_ + "/ca.pem"; }
  const test_certs::Pem& ca() const { return ca_; }
  // A server certificate named name; signed by the folder's CA unless
  // self_signed. Returns the certificate's path (the key is beside it).
  std::string add_server(const std::string& name, const test_certs::ServerSpec& spec, bool self_signed = false);
  std::string cert(const std::string& name) const { return dir_ + "/" + name + ".crt"; }
  std::string key(const std::string& name) const { return dir_ + "/" + name + ".key"; }

 private:
  std::string dir_;
  test_certs::Pem ca_;
};

// The HTTPS receiver: one Node process, serving cert/key. Each request is a
// JSON object {"method","url","webhook_id","servername","verified","error"?,
// "events":[ids],"test"}. Thread-safe.
class HttpsReceiver {
 public:
  HttpsReceiver(const std::string& cert_file, const std::string& key_file);
  ~HttpsReceiver();
  HttpsReceiver(const HttpsReceiver&) = delete;
  HttpsReceiver& operator=(const HttpsReceiver&) = delete;
  uint16_t port() const { return port_; }
  // https://HOST:PORT/hook
  std::string url(const std::string& host = "127.0.0.1", const std::string& path = "/hook") const;
  // Messages are verified with this secret (too) from now on.
  void add_secret(const std::string& secret);
  std::vector<nlohmann::json> requests() const;
  int tls_connections() const;
  bool wait_for(const std::function<bool(const std::vector<nlohmann::json>&)>& pred,
                std::chrono::milliseconds timeout = std::chrono::seconds(30)) const;

 private:
  void read_lines();
  bool wait_event(const std::function<bool()>& pred, std::chrono::milliseconds timeout);

  pid_t pid_ = -1;
  int in_fd_ = -1;   // the child's stdin
  int out_fd_ = -1;  // the child's stdout
  uint16_t port_ = 0;
  std::thread reader_;
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  std::vector<nlohmann::json> requests_;
  int tls_connections_ = 0;
  int secrets_acknowledged_ = 0;
  bool ended_ = false;
  std::string output_;  // everything it printed, for failure messages
};

}  // namespace e2e
