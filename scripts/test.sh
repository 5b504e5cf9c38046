#!/usr/bin/env bash
# Runs every Berth test. Installs what the tests need when it is missing (Debian packages),
# so that a fresh Debian machine with a Rust toolchain passes with this one command.
set -euo pipefail
cd "$(dirname "$0")/.."

need_packages=()
command -v skopeo >/dev/null 2>&1 || need_packages+=(skopeo)
if [ ${#need_packages[@]} -gt 0 ]; then
    echo "installing ${need_packages[*]}"
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_packages[@]}"
fi

cargo test --workspace --all-targets
