#!/usr/bin/env bash
# The Debian package on a fresh Debian 12: builds it (scripts/package.sh,
# from the test build), makes a minimal bookworm root with debootstrap,
# installs systemd there and then the package with apt (so its declared
# dependencies must resolve from Debian's archive), and checks what an
# operator relies on: the growhook user, /var/lib/growhook 0700, the config
# with its permissions, the unit enabled and passing `systemd-analyze
# verify`; then starts the unit's ExecStart as the unit's User= from the
# installed config and talks to it; then removes and purges the package
# (the store stays).
#
#   tests/package/install_test.sh BUILD_DIR      (ctest runs it: package_install)
#
# Needs root (debootstrap, chroot) and Debian's archive (the mirror apt
# uses here): exits 77, which ctest reports as skipped, with a message saying
# why when either is missing. Nothing is cached outside BUILD_DIR (the
# downloaded .debs are kept in BUILD_DIR/package-test-cache for the next run).
# The growhook it starts listens on 127.0.0.1 only.
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:?usage: install_test.sh BUILD_DIR}" && pwd)
started=$(date +%s)

skip() {
  echo "SKIPPED: $*"
  exit 77
}
fail() {
  echo "FAILED: $*"
  exit 1
}
[ "$(id -u)" = 0 ] || skip "the package test installs into a debootstrap root and needs root (run scripts/test.sh as root)"
command -v debootstrap >/dev/null || skip "debootstrap is missing (scripts/setup.sh --test installs it)"
# The Debian mirror this machine's apt uses.
mirror=$(awk '$1 == "URIs:" {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
[ -n "$mirror" ] || mirror=$(awk '$1 == "deb" && $3 ~ /^bookworm$/ {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
[ -n "$mirror" ] || mirror=http://deb.debian.org/debian

work="$build/package-test"
cache="$build/package-test-cache"
root="$work/root"
mkdir -p "$cache/debootstrap" "$cache/apt"
pid=""
cleanup() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill -9 "$pid" 2>/dev/null || true; fi
  for m in "$root/var/cache/apt/archives" "$root/proc"; do
    mountpoint -q "$m" 2>/dev/null && umount -l "$m" || true
  done
  rm -rf "$work"
}
trap cleanup EXIT
cleanup
mkdir -p "$work"

echo "== package"
deb=$(BUILD_DIR="$build" "$src/scripts/package.sh" 2>"$work/package.log") || { cat "$work/package.log"; fail "scripts/package.sh"; }
case "$(basename "$deb")" in
  growhook_*_amd64.deb) ;;
  *) fail "the package is named $(basename "$deb"), not growhook_<version>_amd64.deb" ;;
esac
dpkg-deb --info "$deb" | sed -n 's/^ \(Package\|Version\|Depends\):/  \1:/p'
dpkg-deb --contents "$deb" | awk '{print "  " $1 " " $2 " " $6}' | grep -v '/$' || true

echo "== debootstrap bookworm (minbase) from $mirror"
if ! debootstrap --variant=minbase --cache-dir="$cache/debootstrap" bookworm "$root" "$mirror" >"$work/debootstrap.log" 2>&1; then
  tail -5 "$work/debootstrap.log"
  if grep -qiE "Failed getting release file|Couldn't download|Temporary failure resolving|Could not resolve" "$work/debootstrap.log"; then
    skip "debootstrap could not reach the Debian archive at $mirror"
  fi
  fail "debootstrap"
fi
mount -t proc proc "$root/proc"
mount --bind "$cache/apt" "$root/var/cache/apt/archives"
cp /etc/resolv.conf "$root/etc/resolv.conf"
in_root() { chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive LANG=C "$@"; }

echo "== apt-get install systemd ./$(basename "$deb")"
cp "$deb" "$root/tmp/growhook.deb"
in_root apt-get update -qq >"$work/apt.log" 2>&1 || { tail -5 "$work/apt.log"; fail "apt-get update in the root"; }
# systemd first, as on a real machine: the package then enables its unit.
in_root apt-get install -y -qq --no-install-recommends systemd >>"$work/apt.log" 2>&1 ||
  { tail -20 "$work/apt.log"; fail "apt-get install systemd"; }
in_root apt-get install -y -qq --no-install-recommends /tmp/growhook.deb >>"$work/apt.log" 2>&1 ||
  { tail -20 "$work/apt.log"; fail "apt-get install growhook: its dependencies do not install on Debian 12"; }

echo "== what the package installed"
check() {
  local what=$1 got=$2 want=$3
  [ "$got" = "$want" ] || fail "$what is '$got', not '$want'"
  echo "  ok: $what = $got"
}
check "growhook user's home" "$(in_root getent passwd growhook | cut -d: -f6)" /var/lib/growhook
check "growhook user's shell" "$(in_root getent passwd growhook | cut -d: -f7)" /usr/sbin/nologin
check "/var/lib/growhook" "$(in_root stat -c '%a %U:%G' /var/lib/growhook)" "700 growhook:growhook"
check "/etc/growhook/growhook.toml" "$(in_root stat -c '%a %U:%G' /etc/growhook/growhook.toml)" "640 root:growhook"
check "/usr/bin/growhook --version" "$(in_root /usr/bin/growhook --version)" "$(sed -n 's/^CMAKE_PROJECT_VERSION:STATIC=//p' "$build/CMakeCache.txt")"
[ -L "$root/etc/systemd/system/multi-user.target.wants/growhook.service" ] || fail "the unit was not enabled"
echo "  ok: growhook.service enabled"
grep -q "^/etc/growhook/growhook.toml$" "$root/var/lib/dpkg/info/growhook.conffiles" || fail "the config is not a conffile"
echo "  ok: growhook.toml is a conffile"

echo "== systemd-analyze verify growhook.service"
in_root systemd-analyze verify /lib/systemd/system/growhook.service >"$work/verify.log" 2>&1 ||
  { cat "$work/verify.log"; fail "systemd-analyze verify"; }
# A directive it does not understand is only a warning ("…, ignoring"):
# any output fails the test too.
[ ! -s "$work/verify.log" ] || { cat "$work/verify.log"; fail "systemd-analyze verify warned"; }
echo "  ok: no error, no warning"
unit="$root/lib/systemd/system/growhook.service"
for directive in User=growhook StateDirectory=growhook ProtectSystem=strict NoNewPrivileges=yes PrivateTmp=yes \
  Restart=on-failure KillSignal=SIGTERM; do
  grep -qx "$directive" "$unit" || fail "the unit lacks $directive"
done
echo "  ok: User, StateDirectory, ProtectSystem=strict, NoNewPrivileges, PrivateTmp, Restart=on-failure, SIGTERM"

echo "== the unit's ExecStart as its User=, from the installed config"
user=$(sed -n 's/^User=//p' "$unit")
exec_start=$(sed -n 's/^ExecStart=//p' "$unit")
workdir=$(sed -n 's/^WorkingDirectory=//p' "$unit")
# No GROWHOOK_PLATFORM_TOKEN: the first start makes one and prints it, as
# the journal would show. The port is the one thing changed from the
# installed config (by the environment, which the file leaves to it).
chroot "$root" setpriv --reuid="$user" --regid="$user" --init-groups --no-new-privs -- \
  env -i PATH=/usr/bin:/bin HOME="$workdir" GROWHOOK_LISTEN=127.0.0.1:0 sh -c "cd $workdir && exec $exec_start" \
  >"$work/serve.out" 2>"$work/serve.err" &
pid=$!
for _ in $(seq 1 300); do
  grep -q "listening on" "$work/serve.out" 2>/dev/null && break
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
base=$(grep -o 'listening on http://[^ ]*' "$work/serve.out" | head -1 | cut -d' ' -f3 || true)
[ -n "$base" ] || { cat "$work/serve.out" "$work/serve.err"; fail "growhook serve did not start"; }
case "$base" in http://127.0.0.1:*) ;; *) fail "it listens on $base, not on loopback" ;; esac
token=$(sed -n 's/.*Platform token (shown once; only its hash is kept): //p' "$work/serve.out")
[ -n "$token" ] || fail "the first start printed no platform token"
grep -q "Store: SQLite in /var/lib/growhook" "$work/serve.out" || fail "the store is not in /var/lib/growhook"
# chroot, setpriv, env and sh each exec the next: $pid is growhook's.
check "the process" "$(tr '\0' ' ' <"/proc/$pid/cmdline")" "$exec_start "
check "the process's uid" "$(stat -c %u "/proc/$pid")" "$(in_root id -u growhook)"
check "GET /readyz" "$(curl -s -o /dev/null -w '%{http_code}' "$base/readyz")" 200
check "POST /v1/accounts with the printed token" \
  "$(curl -s -o /dev/null -w '%{http_code}' -X POST "$base/v1/accounts" -H "Authorization: Bearer $token" -d '{"name":"shop"}')" 201
check "the store" "$(in_root stat -c '%a %U' /var/lib/growhook/growhook.db)" "600 growhook"
kill -TERM "$pid"
wait "$pid" && status=0 || status=$?
pid=""
check "exit status after SIGTERM" "$status" 0

echo "== apt-get purge growhook"
in_root apt-get purge -y -qq growhook >>"$work/apt.log" 2>&1 || { tail -5 "$work/apt.log"; fail "apt-get purge"; }
[ ! -e "$root/usr/bin/growhook" ] || fail "/usr/bin/growhook is still there"
[ -f "$root/var/lib/growhook/growhook.db" ] || fail "the purge deleted the store"
echo "  ok: removed; the store in /var/lib/growhook is kept"

echo "package_install: passed in $(($(date +%s) - started)) s"
