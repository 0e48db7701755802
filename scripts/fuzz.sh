#!/usr/bin/env bash
# Runs every fuzz target of the module for a short time (argument: duration,
# default 10s each). Seed corpora live in each package's testdata/fuzz. A
# crasher found is a failure (the input is written to testdata/fuzz); a run
# that fails without one (e.g. a worker starved by a loaded machine) is
# tried once more.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime="${1:-10s}"
log=$(mktemp)
trap 'rm -f "$log"' EXIT

fuzz_once() { go test -run='^$' -fuzz="^$2\$" -fuzztime="$fuzztime" "$1" > "$log" 2>&1; }

for pkg in $(go list ./...); do
  dir=$(go list -f '{{.Dir}}' "$pkg")
  for target in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //' | sort -u); do
    echo "fuzz $pkg $target ($fuzztime)"
    if fuzz_once "$pkg" "$target"; then continue; fi
    if grep -q "Failing input written to" "$log"; then cat "$log"; exit 1; fi
    echo "  failed without a crasher; trying once more:"; tail -5 "$log"
    fuzz_once "$pkg" "$target" || { cat "$log"; exit 1; }
  done
done
