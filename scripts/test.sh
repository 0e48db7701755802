#!/usr/bin/env bash
# The test command of the README: on a fresh machine it installs what the
# tests need (Go modules, sqlc, Debian's chromium for the dashboard test),
# checks formatting, vet and the generated sqlc code, runs the whole suite
# with the race detector, and runs each fuzz target briefly.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin:$(go env GOPATH)/bin"

if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "== installing chromium (browser test of the dashboard)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "chromium is not installed and cannot be installed here; the dashboard browser test will fail" >&2
  fi
fi

echo "== go modules"
go mod download
go mod verify >/dev/null

echo "== format and vet"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then echo "gofmt would change:"; echo "$unformatted"; exit 1; fi
go vet ./...

echo "== sqlc generated code"
scripts/sqlc.sh --check

echo "== tests (race detector)"
go test -race -count=1 -timeout 20m ./...

echo "== end-to-end replay of a public trace (too slow under the race detector)"
go test -count=1 -run 'TestReplaySmallTrace' ./replay/

echo "== fuzz targets, briefly"
scripts/fuzz.sh "${FUZZTIME:-10s}"
