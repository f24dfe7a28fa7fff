#!/usr/bin/env bash
# Makes sure a Redis answers on 127.0.0.1:6379 for the cluster tests: starts redis-server (no
# persistence, in the background) if none answers, installing it first if it is missing.
set -euo pipefail

answers() {
  (exec 3<>/dev/tcp/127.0.0.1/6379 && printf 'PING\r\n' >&3 && head -c 7 <&3 | grep -q PONG) 2>/dev/null
}

if answers; then
  exit 0
fi
if ! command -v redis-server >/dev/null 2>&1; then
  echo "redis: installing redis-server (apt-get install -y redis-server)…"
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq redis-server >/dev/null
fi
echo "redis: starting redis-server on 127.0.0.1:6379"
redis-server --port 6379 --bind 127.0.0.1 --save "" --appendonly no --daemonize yes >/dev/null
for _ in $(seq 1 100); do
  if answers; then exit 0; fi
  sleep 0.05
done
echo "redis: redis-server did not start" >&2
exit 1
