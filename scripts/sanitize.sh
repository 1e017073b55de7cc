#!/usr/bin/env bash
# Builds growhook and the unit tests with a sanitizer and runs the unit and
# end-to-end tests under it, the end-to-end tests twice when
# GROWHOOK_TEST_PG_URL is set (SQLite, then PostgreSQL, as ctest's "pg."
# tests do). The e2e driver is not built again: the plain build's e2e_tests
# (build/, built here if missing) starts the sanitized binary, named by
# GROWHOOK_E2E_BINARY (tests/e2e/harness.h). What the e2e tests check is the
# server they start; a sanitized driver only cost CI two more builds of it.
#   scripts/sanitize.sh asan   # AddressSanitizer + UndefinedBehaviorSanitizer, in build-asan/
#   scripts/sanitize.sh tsan   # ThreadSanitizer, in build-tsan/
# Any report fails the run: halt_on_error=1, UB is not recoverable, and the
# reports of every process, the growhook servers the e2e tests start
# included, are collected in build-<kind>/sanitizer-reports/.
# SANITIZE_FILTER (a gtest filter) narrows the e2e tests to those it names,
# run one after the other; by default every test runs through ctest, two at a
# time, but the few whose point is load or long waits (left to the plain build).
set -euo pipefail
cd "$(dirname "$0")/.."
kind=${1:?usage: scripts/sanitize.sh asan|tsan}
case "$kind" in
  asan) sanitize="address,undefined" ;;
  tsan) sanitize="thread" ;;
  *) echo "usage: scripts/sanitize.sh asan|tsan" >&2; exit 2 ;;
esac
dir=build-$kind

# -O1 -g1: about half the compile time of -O2 -g, and stacks still name lines.
if [ ! -f "$dir/build.ninja" ]; then
  cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1" \
    -DGROWHOOK_SANITIZE="$sanitize" -DGROWHOOK_BENCH=OFF >/dev/null
fi
if ! cmake --build "$dir" --target growhook unit_tests -- ${NINJA_ARGS:-} >"$dir/build.log" 2>&1; then
  grep -A8 -E "error|FAILED" "$dir/build.log" | head -60
  echo "sanitize[$kind]: the build failed; see $dir/build.log"
  exit 1
fi
# The plain build's e2e driver (scripts/test.sh has built it already).
plain=${PLAIN_BUILD_DIR:-build}
if [ ! -f "$plain/build.ninja" ]; then
  cmake -S . -B "$plain" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
if ! cmake --build "$plain" --target e2e_tests -- ${NINJA_ARGS:-} >"$dir/build-e2e.log" 2>&1; then
  grep -A8 -E "error|FAILED" "$dir/build-e2e.log" | head -60
  echo "sanitize[$kind]: the build of $plain/e2e_tests failed; see $dir/build-e2e.log"
  exit 1
fi
export GROWHOOK_E2E_BINARY="$PWD/$dir/growhook"

# Every report is written to $reports/report.<pid>, from this script's tests
# and from every growhook process they start, and ends that process at once
# (so the test that drove it fails too). Any file there fails the run, even
# a report from a process whose exit no test looked at.
reports="$PWD/$dir/sanitizer-reports"
rm -rf "$reports"
mkdir -p "$reports"
common="halt_on_error=1:log_path=$reports/report"
export ASAN_OPTIONS="$common:detect_leaks=1:detect_stack_use_after_return=0:strict_string_checks=1"
export UBSAN_OPTIONS="$common:print_stacktrace=1"
export LSAN_OPTIONS="suppressions=$PWD/tests/sanitizers/lsan.supp:print_suppressions=0"
export TSAN_OPTIONS="$common:second_deadlock_stack=1:suppressions=$PWD/tests/sanitizers/tsan.supp:print_suppressions=0"

status=0
if [ -z "${SANITIZE_FILTER:-}" ]; then
  # Every unit and end-to-end test (the "pg." ones too when
  # GROWHOOK_TEST_PG_URL is set), two at a time as the plain suite runs them:
  # most of an e2e test's time is spent waiting on its server, so two at once
  # halve the wall time on 2 cores. The few whose point is load or long waits
  # are left to the plain build.
  echo "sanitize[$kind]: unit tests (ctest -j2)"
  (cd "$dir" && ctest -j2 --timeout 600 -L unit --output-on-failure) || status=1
  echo "sanitize[$kind]: end-to-end tests against $dir/growhook (ctest -j2 in $plain, without *Soak*|*Load*|*Bench*)"
  (cd "$plain" && ctest -j2 --timeout 600 -L e2e -E 'Soak|Load|Bench' --output-on-failure) || status=1
else
  echo "sanitize[$kind]: unit tests"
  "$dir/unit_tests" --gtest_brief=1 || status=1
  echo "sanitize[$kind]: end-to-end tests against $dir/growhook (filter $SANITIZE_FILTER)"
  "$plain/e2e_tests" --gtest_brief=1 --gtest_filter="$SANITIZE_FILTER" || status=1
  if [ -n "${GROWHOOK_TEST_PG_URL:-}" ]; then
    echo "sanitize[$kind]: end-to-end tests on PostgreSQL (filter $SANITIZE_FILTER)"
    GROWHOOK_E2E_STORE=postgres "$plain/e2e_tests" --gtest_brief=1 --gtest_filter="$SANITIZE_FILTER" || status=1
  fi
fi
if compgen -G "$reports/report*" >/dev/null; then
  status=1
  for f in "$reports"/report*; do
    echo "sanitize[$kind]: report in $f:"
    head -60 "$f"
  done
fi
if [ "$status" = 0 ]; then echo "sanitize[$kind]: all tests passed, no report"; fi
exit $status
