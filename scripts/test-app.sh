#!/usr/bin/env bash
# The sample app's tests (examples/electron-app): a type check of main.js, preload.js and the
# renderer against Electron's own declarations, the main-process logic under plain Node, and
# the renderer in headless Chromium. Installs what they need on a fresh machine: Chromium from
# the distribution (apt-get), the example's npm packages (Electron without its binary), and
# piazza-rtc itself from the packed tarballs of the main and this machine's platform package,
# as a user's app installs it (scripts/pack.js; the platform package is (re)built by
# scripts/dist.sh, a few seconds when nothing changed, so it never lags behind the JS).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -z "${CHROMIUM_PATH:-}" ] && ! [ -x /usr/bin/chromium ]; then
  echo "test-app: installing Chromium (apt-get install -y chromium)…"
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi

PLATFORM=$(node -p "require('./lib/platform').platformName()")
bash scripts/dist.sh
node scripts/pack.js --platform-dir "npm/$PLATFORM" --out examples/electron-app/vendor

cd examples/electron-app
# Electron's installer would fetch a binary from outside: the declarations are all we need.
# The lockfile pins no integrity for the packed piazza-rtc tarball (it changes with every change
# of the package), and --no-save keeps npm from writing one back.
ELECTRON_SKIP_BINARY_DOWNLOAD=1 npm install --no-save --no-audit --no-fund --loglevel=error
# Both tarballs again, named explicitly: npm takes a `file:` tarball listed in the lockfile from
# its cache by the lockfile's integrity, i.e. the tarball packed when the lockfile was written,
# not this one; and the platform package is an optional dependency the registry does not have
# at this version (npm would take it from there).
npm install --no-save --no-audit --no-fund --loglevel=error ./vendor/piazza-rtc.tgz "./vendor/piazza-rtc-$PLATFORM.tgz"
# What is installed is what was just packed.
for f in index.js index.d.ts webxdc.js webxdc.d.ts ../../lib/*.js; do
  f=${f#../../}
  cmp -s "../../$f" "node_modules/piazza-rtc/$f" || { echo "test-app: node_modules/piazza-rtc/$f is stale" >&2; exit 1; }
done
node -e "require('piazza-rtc')" # loads from node_modules, not from the repository
npm test
