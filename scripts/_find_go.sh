# Sourced by the install scripts: sets go_bin to the go command to use (GO,
# then `go` on PATH, then /usr/local/go/bin/go), or calls the sourcing
# script's no_go "<reason>" (which explains what to do and exits).
if [[ -n "${GO:-}" ]]; then
  [[ -x "$GO" ]] || command -v "$GO" >/dev/null 2>&1 || no_go "GO is set to '$GO', which is not an executable"
  go_bin="$GO"
elif command -v go >/dev/null 2>&1; then
  go_bin="$(command -v go)"
elif [[ -x /usr/local/go/bin/go ]]; then
  go_bin=/usr/local/go/bin/go
else
  no_go "Go was not found (not on PATH, not at /usr/local/go/bin/go)"
fi
