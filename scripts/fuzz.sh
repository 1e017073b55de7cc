#!/usr/bin/env bash
# Builds the libFuzzer targets of fuzz/ with clang (ASan + UBSan) in
# build-fuzz/ and runs each for SECONDS (default 20), all at once, starting
# from the committed seeds in fuzz/corpus/<target>/. New inputs go to
# build-fuzz/corpus/<target>/ (kept between runs, never committed); a crash
# leaves its input in build-fuzz/artifacts/<target>/ and makes this script
# exit non-zero. Prints the executions of each target.
#   scripts/fuzz.sh [SECONDS]
#   FUZZ_TARGETS="ingest_fuzz" scripts/fuzz.sh 300   # one target, longer
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-20}
dir=${FUZZ_BUILD_DIR:-build-fuzz}
targets=(${FUZZ_TARGETS:-ingest_fuzz contact_fuzz timestamp_fuzz address_fuzz retry_fuzz decode_fuzz})

if [ ! -f "$dir/build.ninja" ]; then
  CC=clang CXX=clang++ cmake -S . -B "$dir" -G Ninja -DGROWHOOK_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
if ! cmake --build "$dir" --target "${targets[@]}" -- ${NINJA_ARGS:-} >"$dir/build.log" 2>&1; then
  grep -A5 -E "error|FAILED" "$dir/build.log" | head -40
  echo "fuzz: the build failed; see $dir/build.log"
  exit 1
fi

dict_for() {
  case "$1" in
    ingest_fuzz|contact_fuzz) echo "-dict=fuzz/dict/json.dict" ;;
    address_fuzz) echo "-dict=fuzz/dict/address.dict" ;;
  esac
}

export ASAN_OPTIONS=${ASAN_OPTIONS:-halt_on_error=1:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
pids=()
for t in "${targets[@]}"; do
  mkdir -p "$dir/corpus/$t" "$dir/artifacts/$t"
  # shellcheck disable=SC2046
  "$dir/$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=16384 -print_final_stats=1 \
    $(dict_for "$t") -artifact_prefix="$dir/artifacts/$t/" "$dir/corpus/$t" "fuzz/corpus/$t" \
    >"$dir/$t.log" 2>&1 &
  pids+=($!)
done

status=0
for i in "${!targets[@]}"; do
  t=${targets[$i]}
  if wait "${pids[$i]}"; then
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/$t.log" | tail -1)
    corpus=$(ls "$dir/corpus/$t" | wc -l)
    echo "fuzz: $t: ${runs:-?} executions in ${seconds}s, corpus $corpus, no crash"
  else
    echo "fuzz: $t: FAILED (crash, leak, UB or broken invariant); input in $dir/artifacts/$t/, log $dir/$t.log"
    grep -E "ERROR|invariant|runtime error|SUMMARY" "$dir/$t.log" | head -20 || true
    status=1
  fi
done
exit $status
