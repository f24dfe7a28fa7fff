#!/usr/bin/env bash
# The sample app's tests (examples/electron-app): a type check of main.js, preload.js and the
# renderer against Electron's own declarations, the main-process logic under plain Node, and
# the renderer in headless Chromium. Installs what they need on a fresh machine: Chromium from
# the distribution (apt-get), the example's npm packages (Electron without its binary).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -z "${CHROMIUM_PATH:-}" ] && ! [ -x /usr/bin/chromium ]; then
  echo "test-app: installing Chromium (apt-get install -y chromium)…"
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi

cd examples/electron-app
# Electron's installer would fetch a binary from outside: the declarations are all we need.
ELECTRON_SKIP_BINARY_DOWNLOAD=1 npm install --no-audit --no-fund --loglevel=error
npm test
