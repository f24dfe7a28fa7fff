#!/usr/bin/env bash
# The soak test (crates/bench/src/bin/soak.rs) for N seconds (default 60; `npm run soak` runs
# 600): 200 churning clients against a piazza-server process, failing on any violation.
# The server is the release-built one: the platform package's, staged by `npm run
# test:package` (scripts/dist.sh), when it is newer than every engine source; otherwise
# target/release/piazza-server, built here. The load generator itself is a debug build (cargo
# test has compiled its dependencies already): it keeps up with this load.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}

# This machine's platform package (as lib/platform.js names it) and its server binary.
staged=$(node -p "const p = require('./lib/platform.js'); 'npm/' + p.platformName() + '/' + p.serverBinaryName()")
server=""
if [ -x "$staged" ] && [ -z "$(find crates/engine/src crates/engine/Cargo.toml Cargo.toml Cargo.lock -newer "$staged" -print -quit)" ]; then
  server=$staged
else
  cargo build --release -q -p piazza-engine --bin piazza-server
  server=target/release/piazza-server
fi
echo "soak: ${seconds} s against $server"
cargo build -q -p piazza-bench --bin soak
exec target/debug/soak --seconds "$seconds" --server "$server"
