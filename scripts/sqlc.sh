#!/usr/bin/env bash
# Regenerate (default) or check (--check) the sqlc query code in db/ with the
# pinned sqlc version. --check fails when the committed code differs from what
# sqlc generates, and proves once that the check can fail.
set -euo pipefail
SQLC_VERSION=v1.31.1
cd "$(dirname "$0")/.."
sqlc_bin="$(go env GOPATH)/bin/sqlc"
if ! "$sqlc_bin" version 2>/dev/null | grep -qx "$SQLC_VERSION"; then
  echo "installing sqlc $SQLC_VERSION (builds from source, takes a few minutes)"
  go install "github.com/sqlc-dev/sqlc/cmd/sqlc@$SQLC_VERSION"
fi
if [ "${1:-}" != "--check" ]; then
  exec "$sqlc_bin" generate
fi
"$sqlc_bin" diff || { echo "sqlc: generated code in db/ is out of date; run scripts/sqlc.sh" >&2; exit 1; }
# Show that the check bites: a changed query without regeneration must fail.
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
cp -r sqlc.yaml queries migrations db "$tmp"/
printf '\n-- name: SqlcCheckCanary :one\nSELECT 1;\n' >> "$tmp/queries/server_state.sql"
if (cd "$tmp" && "$sqlc_bin" diff >/dev/null 2>&1); then
  echo "sqlc: the staleness check did not notice a changed query" >&2; exit 1
fi
echo "sqlc: generated code is current (and a stale query is detected)"
