#!/usr/bin/env bash
# Runs every Berth test. Installs what the tests need when it is missing (Debian packages),
# so that a fresh Debian machine with a Rust toolchain passes with this one command.
set -euo pipefail
cd "$(dirname "$0")/.."

need_packages=()
command -v skopeo >/dev/null 2>&1 || need_packages+=(skopeo)
# The referrers tests drive Berth with the ORAS Python SDK (PyPI package `oras`).
if ! command -v python3 >/dev/null 2>&1; then
    need_packages+=(python3 python3-pip)
elif ! python3 -m pip --version >/dev/null 2>&1; then
    need_packages+=(python3-pip)
fi
if [ ${#need_packages[@]} -gt 0 ]; then
    echo "installing ${need_packages[*]}"
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_packages[@]}"
fi

if ! python3 -c "import oras" >/dev/null 2>&1; then
    echo "installing the oras Python package"
    # A Debian system Python refuses (PEP 668) unless told to break system packages.
    python3 -m pip install --quiet oras ||
        python3 -m pip install --quiet --break-system-packages oras
fi

cargo test --workspace --all-targets
