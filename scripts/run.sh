#!/usr/bin/env bash
# Installs what lcte needs, builds it, and runs its main job: `lcte demo`.
# Extra arguments go to `lcte demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh
lcte_install_deps
lcte_build build
exec ./build/src/cli/lcte demo "$@"
