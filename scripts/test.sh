#!/usr/bin/env bash
# Installs everything the tests need (a .venv, the Python packages, Debian's chromium for
# the browser tests), then runs the whole test suite. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -r requirements-dev.txt

if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium
  else
    echo "The browser tests need Debian's chromium: sudo apt-get install chromium" >&2
    exit 1
  fi
fi

# MNIST: $SE_DEMO_DATA, else ../shared/data beside the checkout, else ./data.
if [ -z "${SE_DEMO_DATA:-}" ] && [ -d ../shared/data/MNIST ]; then
  export SE_DEMO_DATA="$(cd ../shared/data && pwd)"
fi
exec .venv/bin/python -m pytest "$@"
