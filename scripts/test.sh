#!/usr/bin/env bash
# Installs everything the tests need, then runs the whole test suite:
#   - .venv with requirements-dev.txt;
#   - as root, Debian's chromium (browser tests), nginx (replicas test), postgresql (the
#     class's store: tests start throwaway servers) and dataset-fashion-mnist;
#   - a data root ./data holding MNIST (linked from $SE_DEMO_DATA or ../shared/data) and
#     Fashion-MNIST (unpacked from the Debian package).
# Without arguments it runs the fast tests first and, only if they pass, the slow ones
# (marked `slow`: training, whole test sets, the browser, new processes importing torch);
# every test runs once.
# Arguments go to pytest instead, in a single run (e.g. `-m "not slow"`, a path, `-k`).
set -euo pipefail
cd "$(dirname "$0")/.."

[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -r requirements-dev.txt

missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
[ -x /usr/sbin/nginx ] || missing+=(nginx)  # tests/test_replicas.py: replicas behind nginx
[ -d /usr/share/datasets/fashion-mnist ] || missing+=(dataset-fashion-mnist)
command -v pg_config >/dev/null 2>&1 || missing+=(postgresql)  # tests/test_class_*.py
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
  else
    echo "The tests need Debian packages: sudo apt-get install ${missing[*]}" >&2
    exit 1
  fi
fi

# MNIST: from $SE_DEMO_DATA, else ../shared/data, else whatever ./data already holds.
source_root="${SE_DEMO_DATA:-}"
if [ -z "$source_root" ] && [ -d ../shared/data/MNIST ]; then source_root=../shared/data; fi
mkdir -p data
if [ -n "$source_root" ] && [ "$(cd "$source_root" && pwd)" != "$(pwd)/data" ] && [ ! -e data/MNIST ]; then
  ln -s "$(cd "$source_root" && pwd)/MNIST" data/MNIST
fi
mkdir -p data/FashionMNIST/raw
for archive in /usr/share/datasets/fashion-mnist/*-ubyte.gz; do
  target="data/FashionMNIST/raw/$(basename "$archive" .gz)"
  [ -s "$target" ] || { gunzip -c "$archive" > "$target.tmp" && mv "$target.tmp" "$target"; }
done
export SE_DEMO_DATA="$(pwd)/data"

if [ $# -gt 0 ]; then
  exec .venv/bin/python -m pytest "$@"
fi
.venv/bin/python -m pytest -m "not slow"
exec .venv/bin/python -m pytest -m slow
