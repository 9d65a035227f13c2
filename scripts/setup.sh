#!/usr/bin/env bash
# One-time (and idempotent) set-up of everything the project needs, from its own files.
#   scripts/setup.sh          Python packages (.venv) and npm packages (KaTeX, Pyodide runtime)
#   scripts/setup.sh --test   also what the tests need: test packages, PyTorch (CPU), Chromium
set -euo pipefail
cd "$(dirname "$0")/.."
want_test=0
[ "${1:-}" = "--test" ] && want_test=1

say() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }
stamp_dir=.venv/.stamps

# --- Python ---------------------------------------------------------------
if [ ! -x .venv/bin/python ]; then
  say "creating .venv ($(python3 --version))"
  python3 -m venv .venv
fi
mkdir -p "$stamp_dir"
extras=""
[ $want_test = 1 ] && extras="[test]"
key=$(cat pyproject.toml | sha256sum | cut -c1-16)$extras
if [ ! -f "$stamp_dir/py-$key" ]; then
  say "installing Python packages$extras"
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e ".$extras"
  touch "$stamp_dir/py-$key"
fi

# --- npm: KaTeX (math at build time), Pyodide runtime, axe-core, Lighthouse --
if ! command -v node >/dev/null; then
  echo "error: Node.js (>= 18) is needed to render math with KaTeX at build time; install it (e.g. apt-get install nodejs npm)" >&2
  exit 1
fi
nkey=$(cat package.json package-lock.json 2>/dev/null | sha256sum | cut -c1-16)
if [ ! -f node_modules/.stamp-$nkey ]; then
  say "installing npm packages"
  if [ -f package-lock.json ]; then npm ci --no-audit --no-fund --loglevel=error; else npm install --no-audit --no-fund --loglevel=error; fi
  touch node_modules/.stamp-$nkey
fi

[ $want_test = 1 ] || exit 0

# --- Test-only: PyTorch CPU build, TRL, Chromium -----------------------------
# The pins live in examples/versions.py (TORCH_VERSION, TRL_VERSION): the TRL example and its tests target them.
pin() { sed -n "s/^$1 = \"\(.*\)\".*/\1/p" examples/versions.py; }
torch_version=$(pin TORCH_VERSION); trl_version=$(pin TRL_VERSION)
if ! .venv/bin/python -c "import torch" 2>/dev/null; then
  say "installing PyTorch $torch_version (CPU) for the PyTorch-vs-numpy tests"
  .venv/bin/python -m pip install -q "torch==$torch_version" || say "PyTorch not installable here: the torch tests will be skipped"
fi
# TRL after torch (not in the `test` extra: resolved together, accelerate would pull a CUDA torch build).
if ! .venv/bin/python -c "import trl, sys; sys.exit(trl.__version__ != '$trl_version')" 2>/dev/null; then
  say "installing TRL $trl_version for the TRL example's tests (examples/trl_grpo.py)"
  .venv/bin/python -m pip install -q "trl==$trl_version" || say "TRL not installable here: the TRL example's training test will be skipped"
fi
if ! command -v chromium >/dev/null && [ ! -x /usr/bin/chromium ]; then
  say "installing Chromium (apt)"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq || true
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium fonts-dejavu-core >/dev/null
fi
say "ready"
