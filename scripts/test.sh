#!/usr/bin/env bash
# Runs every Berth test. Installs what the tests need when it is missing (Debian packages, and
# the Python packages into a virtual environment of their own), so that a fresh Debian machine
# with a Rust toolchain passes with this one command.
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=scripts/lib.sh
source scripts/lib.sh

need_packages=()
command -v skopeo >/dev/null 2>&1 || need_packages+=(skopeo)
command -v python3 >/dev/null 2>&1 || need_packages+=(python3)
# The packaging test checks the systemd unit with `systemd-analyze verify`.
command -v systemd-analyze >/dev/null 2>&1 || need_packages+=(systemd)
# Debian's python3 creates virtual environments only with python3-venv (ensurepip).
if ! python3 -c "import ensurepip, venv" >/dev/null 2>&1; then
    need_packages+=(python3-venv)
fi
if [ ${#need_packages[@]} -gt 0 ]; then
    apt_install "${need_packages[@]}"
fi

# The referrers and interoperability tests drive Berth with the ORAS Python SDK (PyPI `oras`),
# and the browse API is probed against its OpenAPI document by `schemathesis`; both are
# installed into a virtual environment under target/ rather than into the system's Python.
venv="$(realpath -m "${CARGO_TARGET_DIR:-target}/python-venv")"
if [ ! -x "$venv/bin/python3" ]; then
    python3 -m venv "$venv"
fi
if ! "$venv/bin/python3" -c "import oras" >/dev/null 2>&1; then
    echo "installing the oras Python package into $venv"
    "$venv/bin/python3" -m pip install --quiet --disable-pip-version-check oras
fi
if ! "$venv/bin/schemathesis" --version 2>/dev/null | grep -q "4.32.5"; then
    echo "installing schemathesis into $venv"
    "$venv/bin/python3" -m pip install --quiet --disable-pip-version-check "schemathesis==4.32.5"
fi
# Tests run `python3`; this one has the packages.
export PATH="$venv/bin:$PATH"

# The PostgreSQL metadata backend is tested against a real server: a throwaway cluster under
# target/services/postgres (installed from Debian's packages when missing), reused when running.
BERTH_TEST_POSTGRES_URL="$(bash scripts/services/postgres.sh)"
export BERTH_TEST_POSTGRES_URL

# The S3 blob store is tested against a real Garage server (built with `cargo install garage`
# when missing, which takes a while the first time): a single node under target/services/garage
# with a bucket and key made by the script. It writes the variables the tests read.
bash scripts/services/garage.sh >/dev/null
set -a
# shellcheck disable=SC1091
. target/services/garage/env
set +a

cargo test --workspace --all-targets

# The web UI end to end in a real browser (Debian's chromium driven by playwright-core), with
# the berth binary the tests above built; screenshots go to target/e2e/screenshots/.
BERTH_BIN="$(realpath -m "${CARGO_TARGET_DIR:-target}/debug/berth")" ./scripts/e2e.sh
