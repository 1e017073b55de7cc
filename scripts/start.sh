#!/usr/bin/env bash
# The first of the README's two commands: install what is missing, build,
# and start `growhook serve` on the embedded SQLite store.
# Extra arguments go to `growhook serve` (e.g. --listen 0.0.0.0:8080).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
exec build/growhook serve "$@"
