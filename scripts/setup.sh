#!/usr/bin/env bash
# One-time setup on a fresh machine: a .venv with the CPU build of torch 2.13.0, then edgeopt
# with its dev and executorch extras. Safe to rerun: it skips the work when pyproject.toml and this script are
# unchanged since the last successful run.
set -euo pipefail
cd "$(dirname "$0")/.."

python=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$python" -m venv .venv

# Debian's Chromium for the report's browser test (no-op when present; needs root for apt).
bash scripts/install_chromium.sh

stamp=.venv/.edgeopt-setup
want=$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -c1-16)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    exit 0
fi

pip() { .venv/bin/python -m pip --disable-pip-version-check -q "$@"; }
pip install --upgrade pip
# Pin torch first: an unpinned torch pulls a multi-GB CUDA build; 2.13.0 is a CPU wheel here.
pip install torch==2.13.0
pip install -e ".[dev,executorch,agent,postgres,openvino]"
echo "$want" > "$stamp"
echo "setup: .venv ready ($(.venv/bin/python -c 'import torch; print("torch", torch.__version__)'))"
