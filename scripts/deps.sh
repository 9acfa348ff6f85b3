#!/usr/bin/env bash
# Installs lcte's build and run dependencies from Debian's registry when any is
# missing. Sourced by scripts/run.sh and scripts/test.sh.
set -euo pipefail

LCTE_APT_PACKAGES=(
  build-essential cmake ninja-build pkg-config git
  nlohmann-json3-dev libcli11-dev libspdlog-dev libfmt-dev libsqlite3-dev libpcre2-dev
  libcpp-httplib-dev libcurl4-openssl-dev libseccomp-dev libopenblas-dev libtomlplusplus-dev
  libgtest-dev libgmock-dev libbenchmark-dev zlib1g-dev libssl-dev python3 libsimde-dev
)
# The dashboard's page is built with node/npm and its browser test drives
# chromium. They are looked up as commands, not packages: a machine may have
# node from elsewhere (whose npm conflicts with Debian's), and then nothing
# needs installing.
LCTE_APT_COMMANDS=(node:nodejs npm:npm chromium:chromium)

# Idle OpenMP threads spin by default, which starves the other core on a
# shared 2-core machine; lcte train is 4x faster with passive waiting.
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-passive}"

lcte_install_deps() {
  local missing=()
  for p in "${LCTE_APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  local tools=()
  for pair in "${LCTE_APT_COMMANDS[@]}"; do
    command -v "${pair%%:*}" >/dev/null 2>&1 || tools+=("${pair#*:}")
  done
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  if [ ${#missing[@]} -gt 0 ] || [ ${#tools[@]} -gt 0 ]; then
    $sudo apt-get update -q
  fi
  if [ ${#missing[@]} -gt 0 ]; then
    echo "lcte: installing ${missing[*]}" >&2
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
  fi
  if [ ${#tools[@]} -gt 0 ]; then
    echo "lcte: installing ${tools[*]}" >&2
    # Without them lcte still builds and runs; the page says it was not built
    # and the browser tests skip, saying why.
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${tools[@]}" ||
      echo "lcte: warning: could not install ${tools[*]}; the dashboard page and browser tests are skipped" >&2
  fi
}

lcte_build() {
  local build_dir="$1"
  cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$build_dir" -j"$(nproc)"
}
