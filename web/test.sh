#!/usr/bin/env bash
# npm run test:web: the browser client's checks and tests. The committed bundle must be what
# web/src builds (web/build.mjs --check, which also prints its size against the budget); the
# sources and the shipped declarations type-check for a browser project (DOM, no @types/node);
# then __test__/web/suite.js runs piazza-rtc/web in headless Chromium (Debian's chromium, or
# CHROMIUM_PATH; installed with apt-get when missing, as scripts/test-app.sh does) against the
# Node package's embedded server and Node clients.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -z "${CHROMIUM_PATH:-}" ] && ! [ -x /usr/bin/chromium ]; then
  echo "test:web: installing Chromium (apt-get install -y chromium)…"
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi

node web/build.mjs --check
npx tsc -p web/tsconfig.json
npx tsc -p __test__/web/types
node --test --test-concurrency=1 --test-timeout=60000 __test__/web/suite.js
