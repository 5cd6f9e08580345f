#!/usr/bin/env bash
# Builds tools/promcheck (the Prometheus text-format parser and linter the
# tests run, see tests/_promcheck.ts) into <project>/.tools/bin/promcheck
# (git-ignored), unless that exact source is already built.
#
#   GO  go binary to use (default: `go` on PATH, then /usr/local/go/bin/go)
#
# The build is skipped when .tools/promcheck.stamp holds the sha256 of
# tools/promcheck/{go.mod,go.sum,main.go} and the Go version; editing any of
# them rebuilds. Versions are pinned by go.mod and go.sum (-mod=readonly).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
src="$root/tools/promcheck"
bin_dir="$root/.tools/bin"
bin="$bin_dir/promcheck"
stamp_file="$root/.tools/promcheck.stamp"

no_go() {
  cat >&2 <<EOF
error: $1
promcheck is built from source (tools/promcheck) with Go >= 1.26, as its
go.mod asks (see https://go.dev/doc/install). Install Go and run this script
again (or set GO=/path/to/go), or point the tests at an existing build:
  export PROMCHECK_BIN=/path/to/promcheck
EOF
  exit 1
}

# shellcheck source=scripts/_find_go.sh
source "$(dirname "${BASH_SOURCE[0]}")/_find_go.sh"

go_version="$("$go_bin" version)"
stamp="$(cd "$src" && { sha256sum go.mod go.sum main.go; echo "$go_version"; } | sha256sum | awk '{print $1}')"

if [[ -x "$bin" && -f "$stamp_file" && "$(cat "$stamp_file")" == "$stamp" ]]; then
  echo "promcheck already built at $bin (source unchanged)"
  exit 0
fi

mkdir -p "$bin_dir"
rm -f "$stamp_file"
if ! (cd "$src" && "$go_bin" build -mod=readonly -trimpath -o "$bin" .); then
  echo "error: '$go_bin build' of $src failed ($go_version)." >&2
  echo "Check the network/module proxy (the first build downloads the pinned modules in go.sum)" \
    "and that Go is >= 1.26, or set PROMCHECK_BIN to an existing promcheck." >&2
  exit 1
fi
echo "$stamp" >"$stamp_file"
echo "built promcheck at $bin ($(echo "$go_version" | awk '{print $3}'))"
