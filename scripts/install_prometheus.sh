#!/usr/bin/env bash
# Makes sure promtool and prometheus are there for the monitoring tests
# (tests/monitoring_test.ts, tests/monitoring_prometheus_test.ts): installs
# Debian's `prometheus` package (both binaries, about 100 MB) with apt-get when
# either is missing and this runs as root (or sudo works without a password).
# Never fails the test run: when it cannot install, it prints one
# "prometheus: NOT INSTALLED" line saying why and exits 0, and those tests are
# skipped with that reason. `deno task test` and .ci/run run it first (a no-op
# once both are found). The apt-get part is scripts/_apt_install.sh, shared
# with install_chromium.sh.
#
# The package would start a Prometheus service listening on 0.0.0.0:9090 and
# enable it at boot. This script leaves none running: a policy-rc.d denies
# every service start during the install (the one that was there is put back
# afterwards), then, where systemd runs, `systemctl disable --now prometheus`
# stops and disables the unit. The tests start their own Prometheus on
# 127.0.0.1 with a temp config, and stop it.
#
#   PROMETHEUS_BIN, PROMTOOL_BIN  binaries to use instead (nothing installed)
set -euo pipefail

APT_LABEL=prometheus
APT_SKIP="the promtool and real-Prometheus tests will be SKIPPED"
APT_HINT="install Debian's package (apt-get install prometheus, then systemctl disable --now prometheus) or set PROMETHEUS_BIN and PROMTOOL_BIN."
# shellcheck source=scripts/_apt_install.sh
source "$(dirname "$0")/_apt_install.sh"

prometheus=${PROMETHEUS_BIN:-$(command -v prometheus || true)}
promtool=${PROMTOOL_BIN:-$(command -v promtool || true)}
if [[ -x "$prometheus" && -x "$promtool" ]]; then
  apt_found "$prometheus, $promtool"
fi
if [[ -n "${PROMETHEUS_BIN:-}${PROMTOOL_BIN:-}" ]]; then
  apt_skip "PROMETHEUS_BIN or PROMTOOL_BIN is set but ${prometheus:-prometheus} and ${promtool:-promtool} are not both executable files"
fi

apt_root

# Deny service starts during the install (invoke-rc.d and deb-systemd-invoke
# ask /usr/sbin/policy-rc.d; 101 = not allowed), and put back whatever
# policy-rc.d was there, on every exit.
policy=/usr/sbin/policy-rc.d
saved=$policy.marketbus-saved
moved=0
wrote=0
restore_policy() {
  if ((wrote)); then "${as_root[@]}" rm -f "$policy"; fi
  if ((moved)); then "${as_root[@]}" mv "$saved" "$policy"; fi
}
trap restore_policy EXIT
if [[ -e "$policy" ]]; then
  "${as_root[@]}" mv "$policy" "$saved" || apt_skip "cannot move $policy aside to deny service starts"
  moved=1
fi
wrote=1
printf '#!/bin/sh\n# scripts/install_prometheus.sh: no service starts while it installs\nexit 101\n' |
  "${as_root[@]}" tee "$policy" >/dev/null
"${as_root[@]}" chmod 755 "$policy"

apt_install prometheus

# The package enabled the unit for the next boot (and, had policy-rc.d been
# ignored, started it): stop and disable it.
if [[ -d /run/systemd/system ]] && command -v systemctl >/dev/null 2>&1; then
  "${as_root[@]}" systemctl disable --now prometheus.service 2>/dev/null ||
    echo "prometheus: could not disable the prometheus service: check that nothing listens on :9090 (systemctl status prometheus)" >&2
fi

if path="$(command -v prometheus)" && command -v promtool >/dev/null; then
  echo "prometheus: installed $path ($("$path" --version 2>/dev/null | head -n1)); its service is not running and not enabled"
else
  apt_skip "apt-get reported success but prometheus or promtool is not on PATH"
fi
