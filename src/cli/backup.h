// `growhook backup --data-dir DIR --to FILE`: a consistent copy of the
// embedded SQLite store, whether a node serves it or not
// (store/sqlite_backup.h says how, and what it costs the node).
#pragma once

#include <CLI/CLI.hpp>

#include "cli/command.h"

namespace growhook::cli {

Command add_backup_command(CLI::App& app);

}  // namespace growhook::cli
