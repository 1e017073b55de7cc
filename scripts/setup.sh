#!/usr/bin/env bash
# Installs what growhook needs on Debian 12: build tools and libraries from
# Debian's packages, and (with --test) what the tests need, including the
# npm packages of the browser tests. Idempotent, and quiet when all is there.
# Every path installs ca-certificates: apt runs with --no-install-recommends,
# and without it a fresh Debian has no /etc/ssl/certs/ca-certificates.crt,
# so no https:// webhook could be verified.
set -euo pipefail
cd "$(dirname "$0")/.."

want_test=0
[ "${1:-}" = "--test" ] && want_test=1

packages=(build-essential cmake ninja-build pkg-config ca-certificates
  libboost-dev libcurl4-openssl-dev libsqlite3-dev libpq-dev libssl-dev zlib1g-dev
  nlohmann-json3-dev libsimdjson-dev libspdlog-dev libcli11-dev libfmt-dev
  libgtest-dev libbenchmark-dev)
if [ "$want_test" = 1 ]; then
  # jq: the README's first steps (tests/e2e/readme_test.cc); debootstrap: the
  # package test (tests/package/install_test.sh).
  packages+=(postgresql chromium clang libclang-rt-14-dev python3 wrk curl procps jq debootstrap)
  # Node.js may come from elsewhere than Debian (its npm then conflicts with
  # Debian's): only ask Debian for it when the commands are missing.
  command -v node >/dev/null || packages+=(nodejs)
  command -v npm >/dev/null || packages+=(npm)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ "$want_test" = 1 ]; then
  # playwright-core and standardwebhooks, at the versions of package-lock.json.
  if [ -f package-lock.json ] && { [ ! -d node_modules ] || [ package-lock.json -nt node_modules ]; }; then
    echo "setup: installing npm packages"
    npm ci --silent --no-audit --no-fund >/dev/null
    touch node_modules
  fi
fi
