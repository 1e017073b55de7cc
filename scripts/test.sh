#!/usr/bin/env bash
# The second of the README's two commands: install what is missing, build,
# and run every test: unit and store-contract tests (SQLite and a throwaway
# PostgreSQL), end-to-end tests against the real binary (on SQLite, and again
# on that PostgreSQL as the "pg." tests: see tests/e2e/harness.h), and the
# browser tests;
# and, unless GROWHOOK_TEST_QUICK=1, the fuzz targets for 20 s each; with
# GROWHOOK_TEST_SANITIZE=1 also the unit and end-to-end tests under ASan+UBSan
# and TSan.
set -euo pipefail
cd "$(dirname "$0")/.."
# Each phase says how long it took, so that a slow CI run shows where.
phase_start=$SECONDS
phase_done() { echo "test.sh: $1 took $((SECONDS - phase_start)) s"; phase_start=$SECONDS; }
scripts/setup.sh --test
phase_done "setup"
scripts/build.sh
phase_done "build"

export GROWHOOK_BIN="$PWD/build/growhook"
pgdir=$(mktemp -d /tmp/growhook-pg.XXXXXX)
cleanup() { scripts/pg-test-cluster.sh stop "$pgdir" >/dev/null 2>&1 || true; rm -rf "$pgdir"; }
trap cleanup EXIT
if [ -x scripts/pg-test-cluster.sh ]; then
  GROWHOOK_TEST_PG_URL=$(scripts/pg-test-cluster.sh start "$pgdir")
  export GROWHOOK_TEST_PG_URL
fi

status=0
# Fuzzing and sanitizers (docs/reliability.md) run before ctest, so that
# ctest's summary closes the output. Every fuzz target for 20 s;
# GROWHOOK_TEST_QUICK=1 skips it.
if [ "${GROWHOOK_TEST_QUICK:-0}" != 1 ]; then
  scripts/fuzz.sh 20 || status=1
  phase_done "fuzzing"
fi
# The unit and end-to-end tests again under ASan+UBSan (build-asan/) and
# TSan (build-tsan/), the e2e tests on SQLite and on PostgreSQL: two more
# builds (server and unit tests; the e2e driver is build/'s) and four more
# e2e runs. GROWHOOK_TEST_SANITIZE=1 adds them.
if [ "${GROWHOOK_TEST_SANITIZE:-0}" = 1 ]; then
  scripts/sanitize.sh asan || status=1
  phase_done "asan+ubsan"
  scripts/sanitize.sh tsan || status=1
  phase_done "tsan"
fi
(cd build && ctest --output-on-failure -j2 --timeout 600) || status=1
phase_done "ctest"
exit $status
