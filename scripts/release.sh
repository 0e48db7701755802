#!/usr/bin/env bash
# Build the release: static binaries (CGO_ENABLED=0) of spallocd, fakebmp and
# spalloc-bench for each target, stamped with the release number and the
# commit (spallocd --version shows both, and the Go version), packed as
# dist/spallocd-VERSION-OS-ARCH.tar.gz with the README, the examples and the
# packaging files, plus SHA256SUMS.
#
#   scripts/release.sh VERSION [OUT_DIR]      e.g. scripts/release.sh 1.0.0
#
# VERSION is MAJOR.MINOR.PATCH with an optional -suffix; the spalloc client
# accepts only 0.1.0 <= MAJOR.MINOR.PATCH < 7.0.0. TARGETS overrides the
# targets (default "linux/amd64 linux/arm64").
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"

version="${1:-}"
out="${2:-dist}"
if ! [[ "$version" =~ ^([0-9]+)\.([0-9]+)\.([0-9]+)(-[0-9A-Za-z.-]+)?$ ]]; then
  echo "usage: scripts/release.sh VERSION [OUT_DIR]; VERSION like 1.2.3 or 1.2.3-rc1, got '$version'" >&2
  exit 2
fi
major=${BASH_REMATCH[1]} minor=${BASH_REMATCH[2]}
if (( 10#$major >= 7 || (10#$major == 0 && 10#$minor == 0) )); then
  echo "release.sh: version $version is outside 0.1.0 .. 6.x.x, which the spalloc client refuses" >&2
  exit 2
fi
commit="$(git rev-parse HEAD 2>/dev/null || echo unknown)"
if [ "$commit" != unknown ] && [ -n "$(git status --porcelain --untracked-files=no)" ]; then
  commit="$commit-modified"
fi

pkg=github.com/spalloc/spallocd/internal/buildinfo
mkdir -p "$out"
sums=()
for target in ${TARGETS:-linux/amd64 linux/arm64}; do
  goos="${target%/*}" goarch="${target#*/}"
  name="spallocd-$version-$goos-$goarch"
  dir="$out/$name"
  rm -rf "$dir" && mkdir -p "$dir"
  echo "== $name"
  CGO_ENABLED=0 GOOS="$goos" GOARCH="$goarch" go build -trimpath -buildvcs=false \
    -ldflags "-s -w -X $pkg.version=$version -X $pkg.commit=$commit" \
    -o "$dir/" ./cmd/spallocd ./cmd/fakebmp ./cmd/spalloc-bench
  cp -r README.md docs examples packaging "$dir/"
  tar -C "$out" -czf "$out/$name.tar.gz" "$name"
  sums+=("$name.tar.gz")
done
(cd "$out" && sha256sum "${sums[@]}" > SHA256SUMS)
echo "release $version (commit $commit) in $out/: ${sums[*]}"
