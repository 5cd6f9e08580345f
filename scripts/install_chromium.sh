#!/usr/bin/env bash
# Makes sure a Chromium is there for the real-browser tests (tests/_browser.ts):
# installs Debian's `chromium` package with apt-get when none is found and this
# runs as root (or sudo works without a password). Never fails the test run:
# when it cannot install, it prints one "chromium: NOT INSTALLED" line saying
# why and exits 0, and the browser tests are skipped with that reason (unless
# MARKETBUS_REQUIRE_BROWSER=1 makes them fail instead: for a machine that must
# run them). `deno task test` runs it first (a no-op once a browser is found),
# as the test setup installs nats-server; it pulls about 300 MB of packages.
#
#   CHROMIUM_BIN  a browser to use instead (checked, nothing installed)
#
# The tests look for CHROMIUM_BIN, then chromium, chromium-browser and
# google-chrome on PATH, in that order (the same names as here).
set -euo pipefail

names=(chromium chromium-browser google-chrome)

if [[ -n "${CHROMIUM_BIN:-}" ]]; then
  if [[ -x "$CHROMIUM_BIN" ]]; then
    echo "chromium: using CHROMIUM_BIN=$CHROMIUM_BIN"
  else
    echo "chromium: CHROMIUM_BIN=$CHROMIUM_BIN is not an executable file; the browser tests will fail to start it" >&2
  fi
  exit 0
fi

for name in "${names[@]}"; do
  if path="$(command -v "$name")"; then
    echo "chromium: found $path"
    exit 0
  fi
done

skip() {
  echo "chromium: NOT INSTALLED ($1): the real-browser tests will be SKIPPED (or fail under MARKETBUS_REQUIRE_BROWSER=1)." >&2
  echo "chromium: install Debian's package (apt-get install chromium) or set CHROMIUM_BIN=/path/to/chrome." >&2
  exit 0
}

command -v apt-get >/dev/null 2>&1 || skip "no apt-get: not a Debian-like system"

if [[ "$(id -u)" == 0 ]]; then
  as_root=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  as_root=(sudo -n)
else
  skip "installing needs root, and sudo is missing or asks for a password"
fi

echo "chromium: installing Debian's chromium with apt-get"
export DEBIAN_FRONTEND=noninteractive
# Another apt or dpkg (unattended-upgrades, a parallel job) may hold the lock:
# wait for it, up to 5 minutes, instead of failing at once.
apt=("${as_root[@]}" apt-get -o DPkg::Lock::Timeout=300 -q)
# A fresh image has no package lists: update first; otherwise only when the
# install fails (stale lists).
if ! compgen -G "/var/lib/apt/lists/*Packages*" >/dev/null; then
  "${apt[@]}" update || skip "apt-get update failed (no network to the package mirror, or the lock held over 5 minutes)"
fi
if ! "${apt[@]}" install -y --no-install-recommends chromium 2>/dev/null; then
  echo "chromium: install failed with the current package lists; updating them and retrying"
  "${apt[@]}" update || skip "apt-get update failed (no network to the package mirror, or the lock held over 5 minutes)"
  "${apt[@]}" install -y --no-install-recommends chromium ||
    skip "apt-get install chromium failed"
fi

if path="$(command -v chromium)"; then
  echo "chromium: installed $path ($("$path" --version 2>/dev/null | head -n1))"
else
  skip "apt-get reported success but no chromium is on PATH"
fi
