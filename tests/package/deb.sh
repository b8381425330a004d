#!/usr/bin/env bash
# Builds shmring's Debian packages (debian/) from a copy of this tree, installs them, builds and runs the package
# consumer (tests/package/consumer) against the installed files -- find_package from /usr and pkg-config -- and
# removes the packages again. Installing needs root (or sudo); CI runs it as a step of .ci/run.
# Usage: tests/package/deb.sh [DIR]   (DIR: also keep the built .debs there)
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
keep=${1:-}
cd "$src"
bash cmake/deps.sh package

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
apt=($sudo env DEBIAN_FRONTEND=noninteractive apt-get -y -qq -o DPkg::Lock::Timeout=300)
pkgs=(libshmring-dev shmring-tools)
fail() { echo "deb.sh: $*" >&2; exit 1; }

for p in "${pkgs[@]}"; do
  if dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
    fail "$p is already installed; this check installs and removes its own build (apt-get remove ${pkgs[*]})"
  fi
done
version=$(sed -n 's/^project(shmring VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)
deb_version=$(dpkg-parsechangelog -l debian/changelog -S Version)
[ "$version" = "$deb_version" ] || fail "debian/changelog is at $deb_version, CMakeLists.txt at $version"

work=$(mktemp -d "${TMPDIR:-/tmp}/shmring-deb.XXXXXX")
installed=0
cleanup() {
  if [ "$installed" = 1 ]; then
    echo "=== removing ${pkgs[*]}"
    "${apt[@]}" purge "${pkgs[@]}" >/dev/null || echo "deb.sh: could not remove ${pkgs[*]}" >&2
  fi
  rm -rf "$work"
}
trap cleanup EXIT

# dpkg-buildpackage writes into the tree and its parent: build in a copy, of the files git knows about (tracked
# and untracked but not ignored, so no build/), or of everything but build/ outside a git checkout.
tree="$work/shmring-$version"
mkdir "$tree"
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  git ls-files -z --cached --others --exclude-standard |
    while IFS= read -r -d '' f; do if [ -e "$f" ]; then printf '%s\0' "$f"; fi; done |
    tar --null -T - -cf - | tar -xf - -C "$tree"
else
  tar --exclude=./build --exclude='./obj-*' -cf - . | tar -xf - -C "$tree"
fi

echo "=== dpkg-buildpackage -us -uc -b (log: $work/build.log)"
if ! (cd "$tree" && DEB_BUILD_OPTIONS="parallel=2" dpkg-buildpackage -us -uc -b) >"$work/build.log" 2>&1; then
  tail -n 60 "$work/build.log" >&2
  fail "dpkg-buildpackage failed"
fi
arch=$(dpkg --print-architecture)
dev_deb="$work/libshmring-dev_${version}_all.deb"
tools_deb="$work/shmring-tools_${version}_${arch}.deb"
for d in "$dev_deb" "$tools_deb"; do
  [ -f "$d" ] || fail "dpkg-buildpackage made no $(basename "$d"): $(cd "$work" && ls ./*.deb 2>/dev/null)"
  echo "--- $(basename "$d")"
  dpkg-deb -c "$d" | awk '{print $NF}'
done
expect() {  # expect DEB PATH...: the package holds each path
  local listing; listing=$(dpkg-deb -c "$1" | awk '{print $NF}')
  shift
  for f in "$@"; do grep -qx "\./$f" <<<"$listing" || fail "the package has no /$f"; done
}
expect "$dev_deb" usr/include/shmring/shmring.hpp usr/share/cmake/shmring/shmringConfig.cmake \
  usr/share/cmake/shmring/shmringConfigVersion.cmake usr/share/cmake/shmring/shmringTargets.cmake \
  usr/share/pkgconfig/shmring.pc usr/share/doc/libshmring-dev/copyright
expect "$tools_deb" usr/bin/shmring usr/share/doc/shmring-tools/copyright
if [ -n "$keep" ]; then
  mkdir -p "$keep" && cp "$dev_deb" "$tools_deb" "$keep"/
fi

echo "=== installing the packages"
installed=1
"${apt[@]}" install --no-install-recommends "$dev_deb" "$tools_deb" >/dev/null
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" | grep -q "ok installed" || fail "$p did not install"
done

echo "=== the installed tool"
/usr/bin/shmring --help >/dev/null || fail "/usr/bin/shmring --help failed"
echo "shmring --help: ok"

for mode in find_package pkg_config; do
  echo "=== the package consumer against /usr ($mode)"
  cmake -DMODE=$mode -DPREFIX=/usr -DSHMRING_SOURCE_DIR="$src" -DSHMRING_VERSION="$version" \
        -DWORK_DIR="$work/$mode" -DCXX="${CXX:-c++}" -P tests/package/run.cmake
done

cleanup
installed=0
trap - EXIT
[ ! -e /usr/include/shmring ] || fail "/usr/include/shmring is still there after removing the packages"
echo "=== deb.sh: the packages build, install, serve find_package and pkg-config, and remove"
