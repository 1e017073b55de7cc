#include "cli/backup.h"

#include <cstdio>
#include <memory>
#include <string>

#include "store/sqlite_backup.h"

namespace growhook::cli {
namespace {

struct BackupArgs {
  std::string data_dir = "./growhook-data";
  std::string to;
};

int run_backup(const BackupArgs& a) {
  auto r = backup_sqlite_store(a.data_dir, a.to);
  if (!r.ok()) {
    std::fprintf(stderr, "growhook backup: %s\n", r.error().message.c_str());
    return r.error().code == ErrorCode::kInvalid || r.error().code == ErrorCode::kNotFound ? 2 : 1;
  }
  std::printf("growhook backup: %s/growhook.db -> %s\n", a.data_dir.c_str(), a.to.c_str());
  std::printf("  %.1f MB, schema %d: %lld accounts, %lld webhooks, %lld events, %lld pending and %lld failed batches\n",
              static_cast<double>(r->bytes) / 1e6, r->schema_version, static_cast<long long>(r->accounts),
              static_cast<long long>(r->webhooks), static_cast<long long>(r->events),
              static_cast<long long>(r->pending_batches), static_cast<long long>(r->failed_batches));
  std::printf("  copied in %.2f s (%.2f s with the sync and the check); restore: docs/operations.md\n",
              static_cast<double>(r->copy_ms) / 1e3, static_cast<double>(r->total_ms) / 1e3);
  return 0;
}

}  // namespace

Command add_backup_command(CLI::App& app) {
  auto args = std::make_shared<BackupArgs>();
  auto* sub = app.add_subcommand(
      "backup",
      "Write a consistent copy of the embedded SQLite store to a file, while growhook serves it or not");
  sub->add_option("--data-dir", args->data_dir, "The data folder of growhook serve")
      ->envname("GROWHOOK_DATA_DIR")
      ->capture_default_str();
  sub->add_option("--to", args->to, "The file to write (replaced as a whole once the copy is complete and checked)")
      ->required();
  sub->footer(
      "The copy holds every event acknowledged before the backup began. It is one self-contained SQLite file, "
      "mode 0600; the webhooks' secrets in it are sealed with the data folder's secrets.key (or "
      "GROWHOOK_SECRETS_KEYS), which it does not contain: keep that key apart. To restore it: stop growhook, put "
      "the file in an empty data folder as growhook.db with the key file beside it, start growhook on that folder.");
  return {sub, [args] { return run_backup(*args); }};
}

}  // namespace growhook::cli
