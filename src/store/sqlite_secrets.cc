#include "store/sqlite_secrets.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <vector>

#include "store/sqlite_rows.h"

namespace growhook::sqlite {
namespace {

Result<std::vector<StoredSecrets>> read_page(Db& db, const std::string& after_id, int limit) {
  GH_STMT(s, db, "SELECT id, auth, secret, previous_secret FROM webhooks WHERE id > $1 ORDER BY id LIMIT $2");
  s->bind(1, after_id).bind(2, limit);
  std::vector<StoredSecrets> rows;
  int rc;
  while ((rc = s->step()) == SQLITE_ROW) rows.push_back({s->str(0), s->str(1), s->str(2), s->str(3)});
  if (rc != SQLITE_DONE) return db.error(rc, "read webhooks' secrets");
  return rows;
}

Result<ResealPage> reseal_rows(Db& db, const std::vector<StoredSecrets>& rows, bool reseal) {
  ResealPage page;
  for (const auto& row : rows) {
    page.last_id = row.id;
    ++page.examined;
    auto next = refreshed_secrets(db.secrets(), row, reseal);
    if (!next.ok()) return next.error();
    if (!*next) continue;
    GH_STMT(u, db,
            "UPDATE webhooks SET auth = $2, secret = $3, previous_secret = $4 WHERE id = $1 AND auth = $5 AND "
            "secret = $6 AND previous_secret = $7");
    u->bind(1, row.id).bind(2, (*next)->auth).bind(3, (*next)->secret).bind(4, (*next)->previous_secret);
    u->bind(5, row.auth).bind(6, row.secret).bind(7, row.previous_secret);
    GH_RETURN_IF_ERROR(done(db, u->step(), "reseal webhook"));
    if (db.changes() == 1) ++page.resealed;
    else ++page.changed_meanwhile;
  }
  return page;
}

}  // namespace

Result<ResealPage> reseal_page(Db& db, const std::string& after_id, int limit, bool reseal) {
  // Read and written in one IMMEDIATE transaction: nothing changes between.
  GH_RETURN_IF_ERROR(db.run("BEGIN IMMEDIATE"));
  auto rows = read_page(db, after_id, limit);
  Result<ResealPage> page = rows.ok() ? reseal_rows(db, *rows, reseal) : Result<ResealPage>(rows.error());
  if (!page.ok()) {
    (void)db.run("ROLLBACK");
    return page;
  }
  if (page->examined == 0) page->last_id = after_id;
  if (auto s = db.run("COMMIT"); !s.ok()) {
    (void)db.run("ROLLBACK");
    return s.error();
  }
  return page;
}

Result<int64_t> count_not_sealed_by_first(Db& db) {
  GH_STMT(s, db,
          "SELECT count(*) FROM webhooks WHERE NOT (auth LIKE $1 AND secret LIKE $1 AND (previous_secret = '' "
          "OR previous_secret LIKE $1))");
  s->bind(1, sealed_by_first_pattern(db.secrets()));
  int rc = s->step();
  if (rc != SQLITE_ROW) return db.error(rc, "count webhooks' secrets");
  return s->i64(0);
}

// The database holds the webhooks' signing secrets and their receivers'
// credentials, sealed, and the folder holds the key that opens them
// (secrets.key): only the service's user may read either. A data folder
// created here is 0700; the database is created 0600 (and an older one
// tightened), and SQLite gives its -wal and -shm files the database's mode.
void restrict_to_owner(const std::string& data_dir, bool folder_created) {
  namespace fs = std::filesystem;
  std::error_code ignored;
  if (folder_created) fs::permissions(data_dir, fs::perms::owner_all, ignored);
  const std::string db = data_dir + "/growhook.db";
  int fd = ::open(db.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd >= 0) {
    (void)::fchmod(fd, 0600);
    ::close(fd);
  }
  for (const char* suffix : {"-wal", "-shm"}) {
    if (fs::exists(db + suffix, ignored)) {
      fs::permissions(db + suffix, fs::perms::owner_read | fs::perms::owner_write, ignored);
    }
  }
}

}  // namespace growhook::sqlite
