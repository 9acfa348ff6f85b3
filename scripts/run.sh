#!/usr/bin/env bash
# Installs what lcte needs, builds it, and runs its main job: `lcte demo`.
# Extra arguments go to `lcte demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh
lcte_install_deps
lcte_build build
echo "lcte: the binary is $PWD/build/src/cli/lcte" >&2
echo "lcte: to call it as 'lcte', put it on PATH:  export PATH=\"$PWD/build/src/cli:\$PATH\"" >&2
echo "lcte: or install it with the dashboard's page:  cmake --install build --prefix ~/.local  (~/.local/bin/lcte)" >&2
exec ./build/src/cli/lcte demo "$@"
