// `growhook reencrypt --data-dir DIR | --database URL`: reseals every
// webhook's secrets with the first key of GROWHOOK_SECRETS_KEYS (or of the
// SQLite data folder's key file), in small transactions, each row written
// only if no node changed it meanwhile, so the nodes go on serving. The
// rotation it completes is in docs/operations.md.
#pragma once

#include <CLI/CLI.hpp>

#include "cli/command.h"

namespace growhook::cli {

Command add_reencrypt_command(CLI::App& app);

}  // namespace growhook::cli
