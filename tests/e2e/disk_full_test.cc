// End-to-end: the disk holding the data folder fills up.
//
// The data folder is a 20 MB tmpfs that the test mounts (root only; skipped
// otherwise). A ballast file takes most of it, then big bulks are ingested
// until ingestion answers 503 with a problem that says the disk is full.
// Then: nothing acknowledged with 202 before is lost (every such event
// reaches the receiver once space returns), the store is not corrupted
// (integrity_check, restart), and ingestion resumes as soon as the ballast
// is deleted.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/mount.h>
#include <fcntl.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <set>

#include "e2e/harness.h"

namespace e2e {
namespace {

using nlohmann::json;

constexpr const char* kDiskFullDetail = "the disk holding the data folder is full";

// A receiver-side record of every event id delivered.
class DeliveredIds {
 public:
  Reply record(const ReceivedRequest& req) {
    auto j = json::parse(req.body, nullptr, false);
    std::lock_guard lock(mu_);
    if (j.is_object() && j["events"].is_array()) {
      for (const auto& e : j["events"]) ids_.insert(e["id"].get<std::string>());
    }
    return Reply{};
  }
  size_t missing_from(const std::set<std::string>& wanted) const {
    std::lock_guard lock(mu_);
    size_t missing = 0;
    for (const auto& id : wanted) missing += ids_.count(id) == 0;
    return missing;
  }

 private:
  mutable std::mutex mu_;
  std::set<std::string> ids_;
};

// One event whose text values are as long as allowed: about 26 KB stored.
json big_event(int64_t msisdn) {
  const std::string text(2000, static_cast<char>('a' + msisdn % 26));
  json contact = {{"msisdn", msisdn}, {"source", "import"}, {"source_value", "csv"}};
  for (const char* key : {"ecom_email", "ecom_device_type", "ecom_browser_name", "ecom_locale", "ecom_timezone",
                          "ecom_os_name", "ecom_signup_domain", "ecom_signup_path", "ecom_signup_referrer_url"}) {
    contact[key] = text;
  }
  return {{"type", "contact.subscribed"}, {"occurred_at", "2024-09-26T00:08:18.161Z"}, {"contact", contact}};
}

std::string bulk(int64_t first_msisdn, int count) {
  json b = {{"events", json::array()}};
  for (int i = 0; i < count; ++i) b["events"].push_back(big_event(first_msisdn + i));
  return b.dump();
}

uint64_t free_bytes(const std::string& dir) {
  struct statvfs s {};
  if (statvfs(dir.c_str(), &s) != 0) return 0;
  return static_cast<uint64_t>(s.f_bavail) * s.f_frsize;
}

// Writes a file of about `bytes`, or until the disk is full when bytes is 0.
void write_ballast(const std::string& path, uint64_t bytes) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return;
  const std::string chunk(4096, 'B');
  for (uint64_t done = 0; bytes == 0 || done + chunk.size() <= bytes; done += chunk.size()) {
    if (write(fd, chunk.data(), chunk.size()) != static_cast<ssize_t>(chunk.size())) break;
  }
  close(fd);
}

std::string integrity_check(const std::string& db_path) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr) != SQLITE_OK) {
    std::string e = db ? sqlite3_errmsg(db) : "cannot open";
    sqlite3_close(db);
    return e;
  }
  std::string result;
  sqlite3_exec(
      db, "PRAGMA integrity_check",
      [](void* out, int, char** values, char**) {
        *static_cast<std::string*>(out) += values[0] ? values[0] : "";
        return 0;
      },
      &result, nullptr);
  sqlite3_close(db);
  return result;
}

class DiskFull : public ::testing::Test {
 protected:
  void SetUp() override {
    GROWHOOK_E2E_SQLITE_ONLY("the data folder on a small tmpfs is where SQLite keeps the store");
    if (geteuid() != 0) GTEST_SKIP() << "needs root: the test mounts a 20 MB tmpfs as the data folder";
    char tmpl[] = "/tmp/growhook-diskfull.XXXXXX";
    if (!mkdtemp(tmpl)) GTEST_SKIP() << "mkdtemp: " << std::strerror(errno);
    dir_ = tmpl;
    if (mount("tmpfs", dir_.c_str(), "tmpfs", 0, "size=20m,mode=0700") != 0) {
      const std::string why = std::strerror(errno);
      rmdir(dir_.c_str());
      dir_.clear();
      GTEST_SKIP() << "cannot mount a tmpfs on " << tmpl << " (" << why << "); this test needs CAP_SYS_ADMIN";
    }
    mounted_ = true;
  }

  void TearDown() override {
    server_.reset();
    if (mounted_) umount2(dir_.c_str(), MNT_DETACH);
    if (!dir_.empty()) rmdir(dir_.c_str());
  }

  std::string dir_;
  bool mounted_ = false;
  std::unique_ptr<Server> server_;
};

TEST_F(DiskFull, IngestionAnswers503NothingAcknowledgedIsLostAndServiceResumes) {
  DeliveredIds delivered;
  Receiver rx;
  rx.set_handler([&](const ReceivedRequest& r) { return delivered.record(r); });
  server_ = std::make_unique<Server>(std::vector<std::string>{}, dir_);
  Server& server = *server_;
  auto [account, key] = server.create_account();
  auto hook = server.account(key, "POST", "/v1/webhooks",
                             json({{"name", "rx"}, {"url", rx.url()}, {"batch_max_events", 1000}}).dump());
  ASSERT_EQ(hook.status, 201) << hook.body;
  const std::string events_path = "/v1/accounts/" + account + "/events";

  std::set<std::string> acknowledged;
  auto post = [&](const std::string& body) {
    auto r = server.platform("POST", events_path, body);
    if (r.status == 202) {
      const json answer = r.json();
      for (const auto& id : answer["ids"]) acknowledged.insert(id.get<std::string>());
    }
    return r;
  };
  ASSERT_EQ(post(event_body(1, "before-ballast")).status, 202);

  // Leave about 6 MB for the store, then fill that with bulks of ~2.6 MB.
  const std::string ballast = dir_ + "/ballast";
  const uint64_t free_now = free_bytes(dir_);
  ASSERT_GT(free_now, 10u << 20);
  write_ballast(ballast, free_now - (6u << 20));

  HttpResult full;
  int64_t msisdn = 1000;
  for (int i = 0; i < 40; ++i, msisdn += 100) {
    auto r = post(bulk(msisdn, 100));
    if (r.status == 202) continue;
    full = r;
    break;
  }
  ASSERT_EQ(full.status, 503) << "ingestion never refused; free bytes now " << free_bytes(dir_) << "; last answer "
                              << full.body.substr(0, 300);
  EXPECT_EQ(full.headers["content-type"], "application/problem+json");
  EXPECT_NE(full.json()["detail"].get<std::string>().find(kDiskFullDetail), std::string::npos) << full.body;
  EXPECT_FALSE(full.headers["retry-after"].empty());
  // Take the last free byte too. A bulk is still refused with the same
  // detail; a small event may still fit in the WAL's already allocated
  // frames (then it is acknowledged and must be delivered like the rest).
  // Reads keep working.
  const std::string ballast_rest = dir_ + "/ballast-rest";
  write_ballast(ballast_rest, 0);
  EXPECT_LT(free_bytes(dir_), 64u << 10);
  auto refused = post(bulk(msisdn, 100));
  EXPECT_EQ(refused.status, 503) << refused.body.substr(0, 300);
  EXPECT_NE(refused.body.find(kDiskFullDetail), std::string::npos) << refused.body.substr(0, 300);
  auto small = post(event_body(2, "while-full"));
  EXPECT_TRUE(small.status == 202 || small.status == 503) << small.status << " " << small.body;
  EXPECT_EQ(server.account(key, "GET", "/v1/webhooks").status, 200);
  EXPECT_EQ(http("GET", server.base() + "/healthz").status, 200);

  // Space returns: the very next ingestion, a big bulk, is accepted.
  ASSERT_TRUE(std::filesystem::remove(ballast));
  ASSERT_TRUE(std::filesystem::remove(ballast_rest));
  auto after = post(bulk(msisdn + 100, 100));
  EXPECT_EQ(after.status, 202) << after.body.substr(0, 300);

  // Every acknowledged event reaches the receiver (at least once).
  ASSERT_GT(acknowledged.size(), 100u);
  EXPECT_TRUE(eventually([&] { return delivered.missing_from(acknowledged) == 0; }, std::chrono::seconds(60)))
      << delivered.missing_from(acknowledged) << " of " << acknowledged.size() << " acknowledged events never arrived";

  // The store is sound: a clean stop, integrity_check, a restart that works.
  server.stop();
  EXPECT_EQ(server.exit_code(), 0);
  EXPECT_EQ(integrity_check(dir_ + "/growhook.db"), "ok");
  server.start();
  EXPECT_EQ(post(event_body(4, "after-restart")).status, 202);
  EXPECT_TRUE(eventually([&] { return delivered.missing_from(acknowledged) == 0; }));
  EXPECT_EQ(server.account(key, "GET", "/v1/webhooks/" + hook.json()["id"].get<std::string>() + "/batches?state=failed")
                .json()["data"]
                .size(),
            0u);
}

}  // namespace
}  // namespace e2e
