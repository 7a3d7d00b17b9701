#!/usr/bin/env bash
# Build the OpenTelemetry Collector used by tests/e2e/collector.test.ts (the stock
# otlp receiver and the stock `otlp` / `otlphttp` exporters) with the OpenTelemetry
# Collector Builder (OCB), from the Go module proxy only (no prebuilt binaries).
#
#   scripts/otelcol-build.sh               build if needed, print the binary's path
#   scripts/otelcol-build.sh --print-path  print where the binary is (or would be), build nothing
#
# Manifest: tools/otelcol/builder-config.yaml (OCB version = its core modules' version).
# Output:   ${XDG_CACHE_HOME:-$HOME/.cache}/vigil/otelcol-<first 16 hex of sha256(manifest)>/otelcol-vigil
#           (outside the clone, so CI on a fresh clone reuses it; Go's module and build
#           caches persist on their own). Skips everything when that binary exists.
# Needs:    Go (go on PATH or /usr/local/go/bin/go), network access to the Go module proxy
#           on a cold build. VIGIL_OTELCOL_CACHE overrides the cache root.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
manifest="$repo/tools/otelcol/builder-config.yaml"
hash="$(sha256sum "$manifest" | cut -c1-16)"
cache_root="${VIGIL_OTELCOL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vigil}"
dir="$cache_root/otelcol-$hash"
bin="$dir/otelcol-vigil"

if [ "${1:-}" = "--print-path" ]; then
  echo "$bin"
  exit 0
fi
if [ -x "$bin" ]; then
  echo "otelcol: up to date ($bin)" >&2
  echo "$bin"
  exit 0
fi

if ! command -v go >/dev/null 2>&1; then
  if [ -x /usr/local/go/bin/go ]; then
    export PATH="/usr/local/go/bin:$PATH"
  else
    cat >&2 <<'MSG'
otelcol: Go is required to build the OpenTelemetry Collector for tests/e2e/collector.test.ts
  (from the Go module proxy with the OpenTelemetry Collector Builder; no binary is downloaded).
  Install Go 1.25+ (https://go.dev/doc/install, or your distribution's golang package),
  put `go` on PATH, and run scripts/otelcol-build.sh again.
MSG
    exit 1
  fi
fi

ocb_version="$(sed -n 's#.*go\.opentelemetry\.io/collector/receiver/otlpreceiver \(v[0-9][0-9.]*\).*#\1#p' "$manifest" | head -n1)"
[ -n "$ocb_version" ] || { echo "otelcol: cannot read the otlpreceiver version from $manifest" >&2; exit 1; }

mkdir -p "$cache_root"
# One build at a time per cache (parallel CI jobs on one machine).
exec 9>"$cache_root/otelcol.lock"
if command -v flock >/dev/null 2>&1; then flock 9; fi
if [ -x "$bin" ]; then
  echo "otelcol: built meanwhile by another process ($bin)" >&2
  echo "$bin"
  exit 0
fi

start=$(date +%s)
builder_dir="$cache_root/ocb-$ocb_version"
if [ ! -x "$builder_dir/builder" ]; then
  echo "otelcol: installing the OpenTelemetry Collector Builder $ocb_version from the Go module proxy" >&2
  mkdir -p "$builder_dir"
  GOBIN="$builder_dir" nice -n 10 go install "go.opentelemetry.io/collector/cmd/builder@$ocb_version"
fi

# Build in a scratch directory and move the result into place, so an interrupted
# build never leaves a binary that looks finished.
work="$(mktemp -d "$cache_root/otelcol-$hash.tmp.XXXXXX")"
trap 'rm -rf "$work"' EXIT
cp "$manifest" "$work/builder-config.yaml"
echo "otelcol: building $(go version | cut -d' ' -f3) collector from $manifest (log: $work/build.log; a cold build takes minutes)" >&2
if ! (cd "$work" && nice -n 10 "$builder_dir/builder" --config builder-config.yaml >build.log 2>&1); then
  tail -n 40 "$work/build.log" >&2
  echo "otelcol: build failed" >&2
  exit 1
fi
mkdir -p "$dir"
cp "$work/builder-config.yaml" "$work/build.log" "$dir/"
mv "$work/build/otelcol-vigil" "$bin.tmp"
mv "$bin.tmp" "$bin"
echo "otelcol: built $bin in $(( $(date +%s) - start )) s" >&2
echo "$bin"
