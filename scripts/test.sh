#!/usr/bin/env bash
# The test command of the README: on a fresh machine it installs what the
# tests need (Go modules, the pinned sqlc and staticcheck, Debian's chromium
# for the dashboard test, curl, and systemd for checking the unit file),
# checks formatting, vet, staticcheck, go.mod tidiness and the generated sqlc
# code, runs the whole suite with the race detector, and runs each fuzz
# target briefly.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin:$(go env GOPATH)/bin"
STATICCHECK_VERSION=v0.8.2   # honnef.co/go/tools; see staticcheck.conf

# Debian packages the tests use: command -> package.
missing=()
for need in chromium:chromium curl:curl systemd-analyze:systemd; do
  command -v "${need%%:*}" >/dev/null 2>&1 || missing+=("${need#*:}")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "== installing ${missing[*]} (dashboard browser test, first-steps test, systemd unit check)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "not installed and cannot be installed here: ${missing[*]}; the tests that need them fail or skip" >&2
  fi
fi

echo "== go modules"
go mod download
go mod verify >/dev/null

echo "== format and vet"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then echo "gofmt would change:"; echo "$unformatted"; exit 1; fi
go vet ./...

echo "== go.mod and go.sum are tidy"
go mod tidy -diff

echo "== staticcheck $STATICCHECK_VERSION"
if ! staticcheck -version 2>/dev/null | grep -q "${STATICCHECK_VERSION#v}"; then
  go install "honnef.co/go/tools/cmd/staticcheck@$STATICCHECK_VERSION"
fi
staticcheck ./...

echo "== sqlc generated code"
scripts/sqlc.sh --check

echo "== tests (race detector)"
go test -race -count=1 -timeout 20m ./...

echo "== end-to-end replay of a public trace (too slow under the race detector)"
go test -count=1 -run 'TestReplaySmallTrace' ./replay/

echo "== fuzz targets, briefly"
scripts/fuzz.sh "${FUZZTIME:-10s}"
