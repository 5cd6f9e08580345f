#!/usr/bin/env bash
# Makes sure promtool and prometheus are there for the monitoring tests
# (tests/monitoring_test.ts, tests/monitoring_prometheus_test.ts): installs
# Debian's `prometheus` package (both binaries, about 100 MB) with apt-get when
# either is missing and this runs as root (or sudo works without a password).
# Never fails the test run: when it cannot install, it prints one
# "prometheus: NOT INSTALLED" line saying why and exits 0, and those tests are
# skipped with that reason; every step that could fail is guarded so. Only a
# signal (INT, TERM, HUP) ends it otherwise, with 128 + its number, after
# putting policy-rc.d back. `deno task test` and .ci/run run it first (a no-op
# once both are found). The apt-get part is scripts/_apt_install.sh, shared
# with install_chromium.sh.
#
# The package would start a Prometheus service listening on 0.0.0.0:9090 and
# enable it at boot. This script leaves none running: a policy-rc.d denies
# every service start during the install (the one that was there is put back
# afterwards, on every exit and on INT, TERM and HUP), then, where systemd
# runs, `systemctl disable --now prometheus` stops and disables the unit. The
# tests start their own Prometheus on 127.0.0.1 with a temp config, and stop it.
#
# SIGKILL (or a crash, a power cut) cannot be trapped. If it comes between the
# writing of the deny policy and its removal, policy-rc.d is left denying every
# service start on this machine (invoke-rc.d and deb-systemd-invoke start
# nothing: upgraded packages do not restart their services), and the original
# policy-rc.d, if there was one, is left in policy-rc.d.marketbus-saved. The
# next run puts it back before anything else (it knows its own deny policy by
# its second line), even when prometheus is found; without root it says how.
# By hand: `mv /usr/sbin/policy-rc.d.marketbus-saved /usr/sbin/policy-rc.d`,
# or, with no saved file, `rm /usr/sbin/policy-rc.d` if it is this script's.
#
#   PROMETHEUS_BIN, PROMTOOL_BIN  binaries to use instead (nothing installed)
#   POLICY_RC_D                   where policy-rc.d is (default /usr/sbin/policy-rc.d;
#                                 tests/install_prometheus_test.ts points it elsewhere)
set -euo pipefail

APT_LABEL=prometheus
APT_SKIP="the promtool and real-Prometheus tests will be SKIPPED"
APT_HINT="install Debian's package (apt-get install prometheus, then systemctl disable --now prometheus) or set PROMETHEUS_BIN and PROMTOOL_BIN."
# shellcheck source=scripts/_apt_install.sh
source "$(dirname "$0")/_apt_install.sh"

# invoke-rc.d and deb-systemd-invoke ask policy-rc.d; 101 = not allowed.
policy=${POLICY_RC_D:-/usr/sbin/policy-rc.d}
saved=$policy.marketbus-saved
marker="# scripts/install_prometheus.sh: no service starts while it installs"

# Is policy-rc.d this script's deny policy?
ours() {
  [[ -f "$policy" ]] && grep -qxF "$marker" "$policy" 2>/dev/null
}

# What a run killed by SIGKILL left (see above), put back; fails (after
# saying why) when it cannot.
recover_policy() {
  if [[ -e "$saved" ]]; then
    if [[ -e "$policy" ]] && ! ours; then
      echo "prometheus: $saved was left by an interrupted run beside a $policy that is not this script's: keep the one you want (mv $saved $policy, or rm $saved)" >&2
      return 1
    fi
    "${as_root[@]}" mv -f "$saved" "$policy" 2>/dev/null || {
      echo "prometheus: cannot put back $saved as $policy" >&2
      return 1
    }
    echo "prometheus: put back $policy, which an interrupted run had left denying every service start"
  elif ours; then
    "${as_root[@]}" rm -f "$policy" 2>/dev/null || {
      echo "prometheus: cannot remove $policy, left denying every service start by an interrupted run" >&2
      return 1
    }
    echo "prometheus: removed $policy, which an interrupted run had left denying every service start"
  fi
}

if [[ -e "$saved" ]] || ours; then
  if ! apt_try_root; then
    echo "prometheus: $policy was left denying every service start by an interrupted run; as root: mv $saved $policy (or, with no $saved, rm $policy)" >&2
  elif ! recover_policy; then
    recovered=no
  fi
fi

prometheus=${PROMETHEUS_BIN:-$(command -v prometheus || true)}
promtool=${PROMTOOL_BIN:-$(command -v promtool || true)}
if [[ -x "$prometheus" && -x "$promtool" ]]; then
  apt_found "$prometheus, $promtool"
fi
if [[ -n "${PROMETHEUS_BIN:-}${PROMTOOL_BIN:-}" ]]; then
  apt_skip "PROMETHEUS_BIN or PROMTOOL_BIN is set but ${prometheus:-prometheus} and ${promtool:-promtool} are not both executable files"
fi

apt_root
if [[ "${recovered:-}" == no || -e "$saved" ]] || ours; then
  apt_skip "$policy or $saved is left from an interrupted run (see above)"
fi

# Deny service starts during the install, and put back whatever policy-rc.d
# was there on every exit (an exit on INT, TERM or HUP too).
moved=0
wrote=0
restore_policy() {
  if ((wrote)); then
    "${as_root[@]}" rm -f "$policy" 2>/dev/null ||
      echo "prometheus: cannot remove $policy: it still denies every service start" >&2
  fi
  if ((moved)); then
    "${as_root[@]}" mv -f "$saved" "$policy" 2>/dev/null ||
      echo "prometheus: cannot put back $saved as $policy" >&2
  fi
  moved=0 wrote=0
}
trap restore_policy EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM
if [[ -e "$policy" ]]; then
  "${as_root[@]}" mv "$policy" "$saved" 2>/dev/null ||
    apt_skip "cannot move $policy aside to deny service starts"
  moved=1
fi
wrote=1
printf '#!/bin/sh\n%s\nexit 101\n' "$marker" |
  "${as_root[@]}" tee "$policy" >/dev/null 2>&1 ||
  apt_skip "cannot write $policy to deny service starts"
"${as_root[@]}" chmod 755 "$policy" 2>/dev/null ||
  apt_skip "cannot make $policy executable"

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
