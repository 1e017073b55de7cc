#!/usr/bin/env bash
# The second of the README's two commands: install what is missing, build,
# and run every test: unit and store-contract tests (SQLite and a throwaway
# PostgreSQL), end-to-end tests against the real binary, and the browser tests.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test
scripts/build.sh

export GROWHOOK_BIN="$PWD/build/growhook"
pgdir=$(mktemp -d /tmp/growhook-pg.XXXXXX)
cleanup() { scripts/pg-test-cluster.sh stop "$pgdir" >/dev/null 2>&1 || true; rm -rf "$pgdir"; }
trap cleanup EXIT
if [ -x scripts/pg-test-cluster.sh ]; then
  GROWHOOK_TEST_PG_URL=$(scripts/pg-test-cluster.sh start "$pgdir")
  export GROWHOOK_TEST_PG_URL
fi

status=0
(cd build && ctest --output-on-failure -j2 --timeout 600) || status=$?
exit $status
