#!/usr/bin/env bash
# End-to-end tests of the web UI (/ui) in real browsers: Debian's chromium and firefox-esr,
# driven headless by playwright-core (npm; never a browser Playwright downloads), against the
# berth binary cargo builds. Installs what is missing (chromium, firefox-esr and Node.js from
# Debian, `npm ci` in tests/e2e), builds berth unless BERTH_BIN names one, and runs tests/e2e
# with `node --test` once per browser (E2E_BROWSERS, default "chromium firefox").
# Screenshots of the main pages go to target/e2e/screenshots/ (Firefox's to firefox/ in it).
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=scripts/lib.sh
source scripts/lib.sh

CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"
FIREFOX="${FIREFOX:-/usr/bin/firefox-esr}"
export CHROMIUM FIREFOX
E2E_BROWSERS="${E2E_BROWSERS:-chromium firefox}"
need_packages=()
[ -x "$CHROMIUM" ] || need_packages+=(chromium)
if [[ " $E2E_BROWSERS " == *" firefox "* ]] && [ ! -x "$FIREFOX" ]; then
    need_packages+=(firefox-esr)
fi
command -v node >/dev/null 2>&1 || need_packages+=(nodejs)
command -v npm >/dev/null 2>&1 || need_packages+=(npm)
if [ ${#need_packages[@]} -gt 0 ]; then
    apt_install "${need_packages[@]}"
fi

# playwright-core needs Node.js 20 or later.
node_major="$(node -p 'process.versions.node.split(".")[0]')"
if [ "$node_major" -lt 20 ]; then
    echo "FATAL: Node.js $(node --version) is too old: playwright-core needs 20 or later" >&2
    exit 1
fi

# Fail loudly, before any test, when chromium cannot start headless here.
profile="$(mktemp -d)"
if ! chromium_out="$(timeout 60 "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-quic \
        --no-first-run --disable-background-networking --disable-component-update --disable-sync \
        --user-data-dir="$profile" --dump-dom 'data:text/html,<p>chromium-ok</p>' 2>&1)" \
    || ! grep -q chromium-ok <<<"$chromium_out"; then
    rm -rf "$profile"
    echo "FATAL: chromium ($CHROMIUM) cannot start headless:" >&2
    echo "$chromium_out" | tail -20 >&2
    exit 1
fi
rm -rf "$profile"
echo "chromium: $("$CHROMIUM" --version 2>/dev/null | grep -m1 -i chromium || echo "$CHROMIUM")"
if [[ " $E2E_BROWSERS " == *" firefox "* ]]; then
    # Firefox refuses to start as root under a HOME another user owns.
    [ "$(id -u)" -ne 0 ] || export HOME=/root
    profile="$(mktemp -d)"
    if ! firefox_out="$(timeout 60 "$FIREFOX" --headless --profile "$profile" --screenshot "$profile/ok.png" \
            'data:text/html,<p>firefox-ok</p>' 2>&1)" || [ ! -s "$profile/ok.png" ]; then
        rm -rf "$profile"
        echo "FATAL: firefox ($FIREFOX) cannot start headless:" >&2
        echo "$firefox_out" | tail -20 >&2
        exit 1
    fi
    rm -rf "$profile"
    echo "firefox: $("$FIREFOX" --version 2>/dev/null || echo "$FIREFOX")"
fi

# playwright-core, pinned by tests/e2e/package-lock.json; it never downloads a browser.
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
pinned="$(node -p "require('./tests/e2e/package.json').devDependencies['playwright-core']")"
installed="$(node -p "require('./tests/e2e/node_modules/playwright-core/package.json').version" 2>/dev/null || true)"
pinned_ff="$(node -p "require('./tests/e2e/package.json').devDependencies['playwright-core-firefox'].split('@').pop()")"
installed_ff="$(node -p "require('./tests/e2e/node_modules/playwright-core-firefox/package.json').version" 2>/dev/null || true)"
if [ "$pinned" != "$installed" ] || [ "$pinned_ff" != "$installed_ff" ]; then
    (cd tests/e2e && npm ci --no-audit --no-fund)
fi

if [ -z "${BERTH_BIN:-}" ]; then
    cargo build -p berth
    BERTH_BIN="$(realpath -m "${CARGO_TARGET_DIR:-target}/debug/berth")"
fi
export BERTH_BIN

mkdir -p target/e2e/screenshots
export E2E_SCREENSHOTS="$PWD/target/e2e/screenshots"
cd tests/e2e
for browser in $E2E_BROWSERS; do
    echo "== the web UI in $browser"
    E2E_BROWSER="$browser" node --test --test-concurrency=1 "$@" ui.test.js
done
