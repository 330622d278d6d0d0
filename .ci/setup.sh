# Sourced by .ci/run and .ci/main: build .venv from nothing and install everything.
# Usage: . .ci/setup.sh   (from the repository root)
set -euo pipefail

ROOT=$(pwd)
VENV="${ACTWIDGETS_VENV:-$ROOT/.venv}"
PY="${PYTHON:-python3}"

if [ ! -x "$VENV/bin/python" ]; then
  "$PY" -m venv "$VENV"
fi
# shellcheck disable=SC1091
. "$VENV/bin/activate"
python -m pip install -q --upgrade pip

# torch and torchvision as a matched pair (PyPI's torchvision does not import beside some
# torch builds). On x86_64 these come from the machine's local wheel cache when present.
case "$(uname -m)" in
  x86_64) TORCH_PAIR="torch==2.14.1 torchvision==0.29.1" ;;
  aarch64) TORCH_PAIR="torch==2.9.1 torchvision==0.24.1" ;;
  *) TORCH_PAIR="torch torchvision" ;;
esac
if ! python -c "import torch, torchvision" >/dev/null 2>&1; then
  # shellcheck disable=SC2086
  python -m pip install -q $TORCH_PAIR
fi
python -m pip install -q -e ".[test,notebooks,e2e,timm,scale,docs]"

# Debian's Chromium for the browser tests (Playwright's own browser download is not used).
if [ ! -x /usr/bin/chromium ] && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null 2>&1 \
    || echo "note: chromium could not be installed; the e2e tests will skip"
fi

# The real SqueezeNet weights, offline, when ../shared is beside the checkout.
if [ -d "$ROOT/../shared/torch-home" ]; then
  TORCH_HOME="$(cd "$ROOT/../shared/torch-home" && pwd)"
  export TORCH_HOME
fi
# GoogLeNet and VGG16 weights cannot be had offline: the notebooks then run with random
# weights, by explicit choice, and say so.
export ACTWIDGETS_RANDOM_WEIGHTS="${ACTWIDGETS_RANDOM_WEIGHTS:-1}"
export MPLBACKEND="${MPLBACKEND:-Agg}"
