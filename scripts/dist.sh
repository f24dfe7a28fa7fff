#!/usr/bin/env bash
# Builds this machine's platform package as a release does (Cargo's `dist` profile: release,
# stripped) and stages the addon and piazza-server into npm/<platform>/. On linux x64 (glibc)
# it builds against the glibc 2.17 baseline (cargo-zigbuild with zig from PyPI, both installed
# when missing), so they load on old distributions too, and prints the highest GLIBC_ symbol
# version each needs, failing above the baseline. Elsewhere it builds natively. All eight
# targets are built by .github/workflows/release.yml.
set -euo pipefail
cd "$(dirname "$0")/.."

HOST=$(rustc -vV | sed -n 's/^host: //p')
PROFILE=dist
GLIBC=2.17

if [ "$HOST" != x86_64-unknown-linux-gnu ]; then
  # Another machine builds its own platform package natively (the release workflow builds
  # them all); the glibc baseline applies to the linux-x64-gnu package built here.
  cargo build --profile "$PROFILE" -p piazza-node
  cargo build --profile "$PROFILE" -p piazza-engine --bin piazza-server
  case "$HOST" in
    *-apple-darwin) lib=libpiazza_node.dylib; exe="" ;;
    *-windows-*) lib=piazza_node.dll; exe=.exe ;;
    *) lib=libpiazza_node.so; exe="" ;;
  esac
  exec node scripts/stage.js --target "$HOST" --addon "target/$PROFILE/$lib" --server "target/$PROFILE/piazza-server$exe"
fi

TARGET=$HOST
if ! python3 -c 'import ziglang' 2>/dev/null && ! command -v zig >/dev/null 2>&1; then
  echo "dist: installing zig (pip install ziglang)…"
  python3 -m pip install --quiet ziglang
fi
if ! command -v cargo-zigbuild >/dev/null 2>&1; then
  echo "dist: installing cargo-zigbuild (cargo install --locked cargo-zigbuild)…"
  cargo install --locked --quiet cargo-zigbuild
fi

# The addon and the server binary in one build, so the engine (with its LTO) is compiled once,
# not once without and once with the `cli` feature. That feature (the binary's command line,
# TOML, allocator and subscriber) is then on for the addon's build too; the engine's library has
# no code behind it, and the linker leaves those crates out of the addon, which uses none of
# them (checked below). Other hosts (above) still build the two separately.
cargo zigbuild --profile "$PROFILE" --target "$TARGET.$GLIBC" -p piazza-node -p piazza-engine --lib --bin piazza-server
OUT="target/$TARGET/$PROFILE"
node scripts/stage.js --target "$TARGET.$GLIBC" --addon "$OUT/libpiazza_node.so" --server "$OUT/piazza-server"

status=0
for file in npm/linux-x64-gnu/piazza.linux-x64-gnu.node npm/linux-x64-gnu/piazza-server; do
  need=$(objdump -T "$file" | grep -o 'GLIBC_[0-9][0-9.]*' | sort -u -V | tail -n 1)
  echo "dist: $file needs $need at most (baseline GLIBC_$GLIBC)"
  if [ "$(printf '%s\n%s\n' "${need#GLIBC_}" "$GLIBC" | sort -V | tail -n 1)" != "$GLIBC" ]; then
    echo "dist: $file needs a newer glibc than $GLIBC" >&2
    status=1
  fi
done
# One build serves both, so the engine's `cli` feature is on for the addon's build as well: the
# addon must still hold none of the binary's own crates.
held=$(strings npm/linux-x64-gnu/piazza.linux-x64-gnu.node | grep -c -i -e mimalloc -e clap || true)
if [ "$held" != 0 ]; then
  echo "dist: the addon holds the server binary's crates (mimalloc or clap)" >&2
  status=1
fi
exit $status
