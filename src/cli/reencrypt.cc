#include "cli/reencrypt.h"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>

#include "store/pg_conn.h"
#include "store/pg_secrets.h"
#include "store/secret_keys.h"
#include "store/sqlite_db.h"
#include "store/sqlite_secrets.h"

namespace growhook::cli {
namespace {

constexpr int kPage = 100;  // rows a transaction: short enough never to hold up a node
constexpr int kPasses = 3;  // passes over rows that changed meanwhile

struct ReencryptArgs {
  std::string data_dir = "./growhook-data";
  std::string database;
};

// The store's two operations, whichever the database.
struct Resealer {
  std::function<Result<ResealPage>(const std::string& after_id, int limit)> page;
  std::function<Result<int64_t>()> left;
};

struct Totals {
  int64_t examined = 0, resealed = 0, changed_meanwhile = 0;
};

Status reseal_all(const Resealer& r, Totals& t) {
  for (int pass = 0; pass < kPasses; ++pass) {
    int64_t changed = 0;
    for (std::string after;;) {
      auto page = r.page(after, kPage);
      if (!page.ok()) return page.error();
      if (pass == 0) t.examined += page->examined;
      t.resealed += page->resealed;
      changed += page->changed_meanwhile;
      if (page->examined < kPage) break;
      after = page->last_id;
    }
    t.changed_meanwhile += changed;
    if (changed == 0) break;
  }
  return ok_status();
}

int fail(const Error& e) {
  std::fprintf(stderr, "growhook reencrypt: %s\n", e.message.c_str());
  return e.code == ErrorCode::kInvalid || e.code == ErrorCode::kNotFound ? 2 : 1;
}

int report(const Resealer& r, const SecretBox& box, const std::string& where) {
  Totals t;
  if (auto s = reseal_all(r, t); !s.ok()) return fail(s.error());
  auto left = r.left();
  if (!left.ok()) return fail(left.error());
  std::printf("growhook reencrypt: %s: %lld webhooks, %lld resealed with key %s (%lld changed meanwhile and "
              "read again)\n",
              where.c_str(), static_cast<long long>(t.examined), static_cast<long long>(t.resealed),
              box.sealing_key_id().c_str(), static_cast<long long>(t.changed_meanwhile));
  if (*left > 0) {
    std::fprintf(stderr,
                 "growhook reencrypt: %lld webhooks still hold a value sealed by another key: a node still seals "
                 "with an older key. Restart every node with key %s first in GROWHOOK_SECRETS_KEYS, then run "
                 "reencrypt again before dropping any key.\n",
                 static_cast<long long>(*left), box.sealing_key_id().c_str());
    return 1;
  }
  std::printf("  every secret is sealed with key %s: the other keys can be dropped (docs/operations.md)\n",
              box.sealing_key_id().c_str());
  return 0;
}

int run_sqlite(const ReencryptArgs& a, const std::string& keys) {
  const std::string path = a.data_dir + "/growhook.db";
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    return fail(Error::not_found("no growhook store in " + a.data_dir + " (no growhook.db there)"));
  }
  auto box = sqlite_secret_keys(keys, a.data_dir, /*create=*/false);
  if (!box.ok()) return fail(box.error());
  // A connection of its own beside the node's: WAL lets both write in turn.
  auto db = sqlite::Db::open(path, /*read_only=*/false);
  if (!db.ok()) return fail(db.error());
  (*db)->set_secrets(box->get());
  sqlite::Db& d = **db;
  Resealer r{[&](const std::string& after, int n) { return sqlite::reseal_page(d, after, n, true); },
             [&] { return sqlite::count_not_sealed_by_first(d); }};
  return report(r, **box, path);
}

int run_postgres(const ReencryptArgs& a, const std::string& keys) {
  if (a.database.rfind("postgresql://", 0) != 0 && a.database.rfind("postgres://", 0) != 0)
    return fail(Error::invalid("--database must be a postgresql:// URL"));
  auto box = postgres_secret_keys(keys);
  if (!box.ok()) return fail(box.error());
  auto conn = pg::Conn::connect(a.database);
  if (!conn.ok()) return fail(conn.error());
  (*conn)->set_secrets(box->get());
  pg::Conn& c = **conn;
  Resealer r{[&](const std::string& after, int n) { return pg::reseal_page(c, after, n, true); },
             [&] { return pg::count_not_sealed_by_first(c); }};
  return report(r, **box, "PostgreSQL");
}

}  // namespace

Command add_reencrypt_command(CLI::App& app) {
  auto args = std::make_shared<ReencryptArgs>();
  auto* sub = app.add_subcommand(
      "reencrypt", "Reseal every webhook's signing secrets and receiver credentials with the first key of "
                   "GROWHOOK_SECRETS_KEYS, while growhook serves");
  auto* dir = sub->add_option("--data-dir", args->data_dir, "The data folder of the SQLite store")
                  ->envname("GROWHOOK_DATA_DIR")
                  ->capture_default_str();
  sub->add_option("--database", args->database, "A postgresql:// URL of the store, instead of --data-dir")
      ->envname("GROWHOOK_DATABASE")
      ->excludes(dir);
  sub->footer(
      "Keys: GROWHOOK_SECRETS_KEYS (the first seals, all open), or on SQLite the data folder's secrets.key when "
      "the variable is unset. Rows are resealed 100 a transaction, each only if no node changed it meanwhile. "
      "Rotation, step by step: docs/operations.md.");
  return {sub, [args] {
            const char* keys = std::getenv("GROWHOOK_SECRETS_KEYS");
            std::string k = keys ? keys : "";
            return args->database.empty() ? run_sqlite(*args, k) : run_postgres(*args, k);
          }};
}

}  // namespace growhook::cli
