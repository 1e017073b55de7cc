// `growhook migrate --data-dir DIR --database URL [--with-history]`: moves
// a stopped SQLite store into an empty PostgreSQL database
// (store/sqlite_to_postgres.h says what is carried and how).
#pragma once

#include <CLI/CLI.hpp>

#include "cli/command.h"

namespace growhook::cli {

Command add_migrate_command(CLI::App& app);

}  // namespace growhook::cli
