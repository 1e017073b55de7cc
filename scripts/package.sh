#!/usr/bin/env bash
# Builds growhook's Debian package for Debian 12 (amd64) with CPack and
# prints its path: $BUILD_DIR/growhook_<version>_amd64.deb. BUILD_DIR
# defaults to build-package (a Release build of the binary alone); an
# existing build folder works too (the package test uses the test build's).
# Installs what the build needs first, like scripts/build.sh's callers.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build-package}
scripts/setup.sh >&2
if [ ! -f "$BUILD_DIR/build.ninja" ]; then
  # The package needs the binary only: installing does not build the tests.
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release -DGROWHOOK_BENCH=OFF \
    -DCMAKE_INSTALL_PREFIX=/usr -DCMAKE_SKIP_INSTALL_ALL_DEPENDENCY=ON ${CMAKE_ARGS:-} >&2
elif ! grep -q '^CMAKE_INSTALL_PREFIX:PATH=/usr$' "$BUILD_DIR/CMakeCache.txt"; then
  # A folder configured before the prefix defaulted to /usr.
  cmake -S . -B "$BUILD_DIR" -DCMAKE_INSTALL_PREFIX=/usr >&2
fi
cmake --build "$BUILD_DIR" --target growhook -- ${NINJA_ARGS:-} >&2
version=$(sed -n 's/^CMAKE_PROJECT_VERSION:STATIC=//p' "$BUILD_DIR/CMakeCache.txt")
rm -f "$BUILD_DIR"/growhook_*_amd64.deb
(cd "$BUILD_DIR" && cpack -G DEB >&2)
deb="$BUILD_DIR/growhook_${version}_amd64.deb"
[ -f "$deb" ] || { echo "package.sh: cpack made no $deb" >&2; exit 1; }
echo "$deb"
