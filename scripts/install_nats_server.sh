#!/usr/bin/env bash
# Installs the pinned nats-server into <project>/.tools/bin (git-ignored) with
# `go install`, unless that exact version is already there.
#
#   NATS_SERVER_VERSION  version to install (default v2.14.9)
#   GO                   go binary to use (default: `go` on PATH, then /usr/local/go/bin/go)
#
# The test harness (tests/nats_server.ts) finds the binary there; it also
# honours NATS_SERVER_BIN and a nats-server on PATH.
set -euo pipefail

version="${NATS_SERVER_VERSION:-v2.14.9}"
[[ "$version" == v* ]] || version="v$version"

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin_dir="$root/.tools/bin"
bin="$bin_dir/nats-server"

installed_version() {
  # `nats-server --version` prints "nats-server: v2.14.9"
  [[ -x "$bin" ]] || return 0
  "$bin" --version 2>/dev/null | awk '{print $NF}' || true
}

if [[ "$(installed_version)" == "$version" ]]; then
  echo "nats-server $version already installed at $bin"
  exit 0
fi

no_go() {
  cat >&2 <<EOF
error: $1
nats-server $version is built from source with Go, which needs Go >= 1.26
(the version nats-server $version's go.mod asks for; see https://go.dev/doc/install).
Either install Go and run this script again (or set GO=/path/to/go), or skip
this script and point the tests at an existing binary:
  export NATS_SERVER_BIN=/path/to/nats-server
EOF
  exit 1
}

# shellcheck source=scripts/_find_go.sh
source "$(dirname "${BASH_SOURCE[0]}")/_find_go.sh"

mkdir -p "$bin_dir"
if ! GOBIN="$bin_dir" "$go_bin" install "github.com/nats-io/nats-server/v2@$version"; then
  echo "error: '$go_bin install github.com/nats-io/nats-server/v2@$version' failed" \
    "($("$go_bin" version 2>/dev/null || echo 'unknown Go version'))." >&2
  echo "Check the network/module proxy and that Go is new enough for that version's go.mod" \
    "(v2.14.9 needs Go >= 1.26), or set NATS_SERVER_BIN to an existing nats-server." >&2
  exit 1
fi

got="$(installed_version)"
if [[ "$got" != "$version" ]]; then
  echo "error: $bin reports version '${got:-?}', expected $version" >&2
  exit 1
fi
echo "installed nats-server $version at $bin (built with $("$go_bin" version | awk '{print $3}'))"
