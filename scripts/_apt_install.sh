# shellcheck shell=bash
# The apt-get install that scripts/install_chromium.sh and
# scripts/install_prometheus.sh share (sourced, not run): root or sudo, the
# dpkg lock, stale package lists, and one line saying why when it cannot
# install. It never fails the test run: apt_skip exits 0, and the tests that
# need the package are then skipped with that reason.
#
# Before sourcing, set:
#   APT_LABEL  the prefix of every line printed, e.g. "chromium"
#   APT_SKIP   what happens without it, e.g. "the real-browser tests will be SKIPPED"
#   APT_HINT   how to get it by hand (a second line when skipping)
#
# apt_skip also writes the reason to .tools/$APT_LABEL.not_installed, which the
# tests quote when they skip (apt_found and a successful install remove it).

# shellcheck disable=SC2034 # as_root is used by the scripts sourcing this one
as_root=()
_apt_reason_file="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/.tools/$APT_LABEL.not_installed"

# apt_skip REASON: prints why on one line (and what to do on a second) and exits 0.
apt_skip() {
  echo "$APT_LABEL: NOT INSTALLED ($1): $APT_SKIP." >&2
  echo "$APT_LABEL: $APT_HINT" >&2
  { mkdir -p "$(dirname "$_apt_reason_file")" && printf '%s\n' "$1" >"$_apt_reason_file"; } 2>/dev/null || true
  exit 0
}

# apt_found WHAT: prints "LABEL: found WHAT", forgets an earlier skip and exits 0.
apt_found() {
  rm -f "$_apt_reason_file"
  echo "$APT_LABEL: found $1"
  exit 0
}

# apt_try_root: sets as_root (empty as root, else sudo -n) and succeeds, or
# fails when neither is available.
apt_try_root() {
  if [[ "$(id -u)" == 0 ]]; then
    as_root=()
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    as_root=(sudo -n)
  else
    return 1
  fi
}

# apt_root: sets as_root (empty as root, else sudo -n), or skips saying why.
apt_root() {
  command -v apt-get >/dev/null 2>&1 || apt_skip "no apt-get: not a Debian-like system"
  apt_try_root || apt_skip "installing needs root, and sudo is missing or asks for a password"
}

# apt_install PACKAGE: apt-get install -y --no-install-recommends PACKAGE as
# root (call apt_root first), updating the package lists when there are none
# or the install fails with them; skips saying why when it cannot.
apt_install() {
  local package=$1
  echo "$APT_LABEL: installing Debian's $package with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  # Another apt or dpkg (unattended-upgrades, a parallel job) may hold the
  # lock: wait for it, up to 5 minutes, instead of failing at once.
  local apt=("${as_root[@]}" apt-get -o DPkg::Lock::Timeout=300 -q)
  local update_failed="apt-get update failed (no network to the package mirror, or the lock held over 5 minutes)"
  # A fresh image has no package lists: update first; otherwise only when the
  # install fails (stale lists).
  if ! compgen -G "/var/lib/apt/lists/*Packages*" >/dev/null; then
    "${apt[@]}" update || apt_skip "$update_failed"
  fi
  if ! "${apt[@]}" install -y --no-install-recommends "$package" 2>/dev/null; then
    echo "$APT_LABEL: install failed with the current package lists; updating them and retrying"
    "${apt[@]}" update || apt_skip "$update_failed"
    "${apt[@]}" install -y --no-install-recommends "$package" ||
      apt_skip "apt-get install $package failed"
  fi
  rm -f "$_apt_reason_file"
}
