#!/usr/bin/env bash
# Installs everything GSI-Bench needs on a fresh machine: the EGL/Mesa libraries for headless rendering
# and chromium for the leaderboard page's browser tests (Debian/Ubuntu, when missing) and a virtual environment
# in .venv with the package and its test, models and real extras.
# Idempotent: a second run only checks. Usage: scripts/setup.sh [VENV_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${1:-.venv}"

apt_install() {  # apt_install WHY PACKAGE...: installs Debian packages (as root, or through sudo)
  local why="$1"
  shift
  echo "[setup] installing $* ($why)"
  local sudo_cmd=""
  if [ "$(id -u)" -ne 0 ]; then sudo_cmd="sudo"; fi
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "$@" >/dev/null
}

if ! ldconfig -p 2>/dev/null | grep -q "libEGL_mesa.so"; then
  apt_install "headless rendering" libegl1 libegl-mesa0 libgl1-mesa-dri
fi
if ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1; then
  apt_install "the leaderboard page's browser tests (Playwright drives Debian's chromium)" chromium
fi

stamp="$venv/.gsi-bench-installed"
fingerprint="$(cat setup.cfg setup.py pyproject.toml | sha256sum | cut -d' ' -f1)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$fingerprint" ]; then
  exit 0
fi
echo "[setup] creating $venv and installing gsi-bench[test,models,train,real,ray]"
python3 -m venv "$venv"
"$venv/bin/pip" install -q --upgrade pip
# torch is pinned in the same command so that pip takes the CPU wheel where one is provided (no CUDA downloads).
"$venv/bin/pip" install -q -e ".[test,models,train,real,ray]" "torch==2.13.0"
echo "$fingerprint" > "$stamp"
