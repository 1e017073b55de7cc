#include "cli/migrate.h"

#include <cstdio>
#include <cstdlib>
#include <memory>

#include "store/sqlite_to_postgres.h"

namespace growhook::cli {
namespace {

int run_migrate(MigrateOptions o) {
  if (const char* keys = std::getenv("GROWHOOK_SECRETS_KEYS")) o.secrets_keys = keys;
  auto r = migrate_sqlite_to_postgres(o);
  if (!r.ok()) {
    std::fprintf(stderr, "growhook migrate: %s\n", r.error().message.c_str());
    const ErrorCode c = r.error().code;
    return c == ErrorCode::kInvalid || c == ErrorCode::kNotFound || c == ErrorCode::kConflict ? 2 : 1;
  }
  std::printf("growhook migrate: %s/growhook.db -> PostgreSQL %s (schema %d) in %.1f s\n", o.data_dir.c_str(),
              r->database.c_str(), r->schema_version, static_cast<double>(r->ms) / 1e3);
  for (const auto& t : r->tables) std::printf("  %-9s %lld rows\n", t.table.c_str(), static_cast<long long>(t.rows));
  std::printf("  %s is marked as moved: growhook serve refuses it from now on.\n"
              "  Next: start growhook serve --database on the new database (docs/operations.md).\n",
              o.data_dir.c_str());
  if (!r->key_file.empty()) {
    std::printf("  The webhooks' secrets are sealed with the key in %s: give every PostgreSQL node\n"
                "  GROWHOOK_SECRETS_KEYS=\"$(cat %s)\" (docs/operations.md, secrets at rest).\n",
                r->key_file.c_str(), r->key_file.c_str());
  }
  return 0;
}

}  // namespace

Command add_migrate_command(CLI::App& app) {
  auto o = std::make_shared<MigrateOptions>();
  o->data_dir = "./growhook-data";
  auto* sub = app.add_subcommand(
      "migrate", "Move a stopped SQLite store (accounts, keys, webhooks with their secrets, undelivered events, "
                 "pending and failed batches) into an empty PostgreSQL database");
  sub->add_option("--data-dir", o->data_dir, "The data folder of the SQLite store (growhook serve must be stopped)")
      ->envname("GROWHOOK_DATA_DIR")
      ->capture_default_str();
  sub->add_option("--database", o->database_url, "A postgresql:// URL of an empty database")
      ->envname("GROWHOOK_DATABASE")
      ->required();
  sub->add_flag("--with-history", o->with_history,
                "Also carry delivered batches with their attempts, and every event still kept");
  sub->footer(
      "Everything is copied in one PostgreSQL transaction: on a failure the database keeps only growhook's empty "
      "tables and the command can run again. On success the SQLite store is marked as moved and growhook serve "
      "refuses it; take a backup first (growhook backup) to be able to go back.");
  return {sub, [o] { return run_migrate(*o); }};
}

}  // namespace growhook::cli
