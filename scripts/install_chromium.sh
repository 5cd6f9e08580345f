#!/usr/bin/env bash
# Makes sure a Chromium is there for the real-browser tests (tests/_browser.ts):
# installs Debian's `chromium` package with apt-get when none is found and this
# runs as root (or sudo works without a password). Never fails the test run:
# when it cannot install, it prints one "chromium: NOT INSTALLED" line saying
# why and exits 0, and the browser tests are skipped with that reason (unless
# MARKETBUS_REQUIRE_BROWSER=1 makes them fail instead: for a machine that must
# run them). `deno task test` runs it first (a no-op once a browser is found),
# as the test setup installs nats-server; it pulls about 300 MB of packages.
# The apt-get part is scripts/_apt_install.sh, shared with install_prometheus.sh.
#
#   CHROMIUM_BIN  a browser to use instead (checked, nothing installed)
#
# The tests look for CHROMIUM_BIN, then chromium, chromium-browser and
# google-chrome on PATH, in that order (the same names as here).
set -euo pipefail

APT_LABEL=chromium
APT_SKIP="the real-browser tests will be SKIPPED (or fail under MARKETBUS_REQUIRE_BROWSER=1)"
APT_HINT="install Debian's package (apt-get install chromium) or set CHROMIUM_BIN=/path/to/chrome."
# shellcheck source=scripts/_apt_install.sh
source "$(dirname "$0")/_apt_install.sh"

if [[ -n "${CHROMIUM_BIN:-}" ]]; then
  if [[ -x "$CHROMIUM_BIN" ]]; then
    echo "chromium: using CHROMIUM_BIN=$CHROMIUM_BIN"
  else
    echo "chromium: CHROMIUM_BIN=$CHROMIUM_BIN is not an executable file; the browser tests will fail to start it" >&2
  fi
  exit 0
fi

for name in chromium chromium-browser google-chrome; do
  if path="$(command -v "$name")"; then apt_found "$path"; fi
done

apt_root
apt_install chromium
if path="$(command -v chromium)"; then
  echo "chromium: installed $path ($("$path" --version 2>/dev/null | head -n1))"
else
  apt_skip "apt-get reported success but no chromium is on PATH"
fi
