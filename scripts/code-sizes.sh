#!/usr/bin/env bash
# Sizes of the code under src/ (or the folders given), against the bars of
# docs/STYLE: the longest files, the longest functions, and the interfaces
# with the most pure virtual methods. Reads universal-ctags' output, so a
# function's length is from its first line to its closing brace (lambdas and
# local classes count in the function that holds them).
#
#   scripts/code-sizes.sh [--top N] [--check] [DIR...]
#
# --check: exit 1 when a file (tests included) is over 600 lines, a function
# outside tests over 80 (a test case is as long as its scene), or an
# interface over 12 pure virtual methods.
set -euo pipefail
cd "$(dirname "$0")/.."
top=15
check=0
dirs=()
while [ $# -gt 0 ]; do
  case "$1" in
    --top) top=$2; shift 2 ;;
    --check) check=1; shift ;;
    *) dirs+=("$1"); shift ;;
  esac
done
[ ${#dirs[@]} -gt 0 ] || dirs=(src)
command -v ctags >/dev/null || { echo "code-sizes: needs universal-ctags (apt-get install universal-ctags)" >&2; exit 2; }

files=$(find "${dirs[@]}" -name '*.cc' -o -name '*.h' | sort)
read -r -d '' report <<'PY' || true
import json, sys
from collections import defaultdict

top, check, paths = int(sys.argv[1]), sys.argv[2] == "1", sys.argv[3:]
MAX_FILE, MAX_FUNC, MAX_PURE = 600, 80, 12
is_test = lambda p: p.endswith("_test.cc")

lines = {p: sum(1 for _ in open(p, encoding="utf-8", errors="replace")) for p in paths}
funcs, pure = [], defaultdict(int)
for raw in sys.stdin:
    t = json.loads(raw)
    if t.get("_type") != "tag":
        continue
    props = t.get("properties", "")
    if t.get("kind") == "function" and "end" in t:
        scope = t.get("scope", "").replace("growhook::", "")
        scope = "::".join(s for s in scope.split("::") if not s.startswith("__anon"))
        name = (scope + "::" if scope else "") + ("(lambda)" if t["name"].startswith("__anon") else t["name"])
        funcs.append((t["end"] - t["line"] + 1, name, t["path"], t["line"]))
    if "pure" in props.split(","):
        pure[(t.get("scope", "").replace("growhook::", ""), t["path"])] += 1

failed = False
print(f"Files (lines), the {top} longest; bar {MAX_FILE}:")
for p, n in sorted(lines.items(), key=lambda kv: -kv[1])[:top]:
    over = n > MAX_FILE
    failed |= over
    print(f"  {n:5d}  {p}{'   <-- over' if over else ''}")
print(f"\nFunctions (lines), the {top} longest; bar {MAX_FUNC}:")
for n, name, p, line in sorted(funcs, key=lambda f: -f[0])[:top]:
    over = n > MAX_FUNC and not is_test(p)
    print(f"  {n:5d}  {name}  ({p}:{line}){'   <-- over' if over else ''}")
failed |= any(n > MAX_FUNC and not is_test(p) for n, _, p, _ in funcs)
print(f"\nInterfaces (pure virtual methods); bar {MAX_PURE}:")
for (cls, p), n in sorted(pure.items(), key=lambda kv: -kv[1]):
    over = n > MAX_PURE
    failed |= over
    print(f"  {n:5d}  {cls}  ({p}){'   <-- over' if over else ''}")
total = sum(v for p, v in lines.items() if not is_test(p))
print(f"\n{len(paths)} files, {total} lines outside tests, {len(funcs)} functions")
sys.exit(1 if (check and failed) else 0)
PY
# shellcheck disable=SC2086
ctags --kinds-C++=+p --fields=+ne --fields-C++=+{properties} --output-format=json -f - $files 2>/dev/null |
  python3 -c "$report" "$top" "$check" $files
