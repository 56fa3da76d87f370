#!/usr/bin/env bash
# The real-browser UI test (tests/ui/test_browser.py): Debian's Chromium and ChromeDriver, and
# Playwright's Python package in .venv, which drives /usr/bin/chromium directly (no browser is
# downloaded: `playwright install` is never run).
#
# Idempotent and quiet; a no-op (well under a second) when everything is already installed.
# Needs root (or sudo) only when a Debian package is missing.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
    sudo=()
    if [[ $(id -u) -ne 0 ]]; then
        command -v sudo >/dev/null 2>&1 || { echo "setup-browser: need root to install chromium" >&2; exit 1; }
        sudo=(sudo)
    fi
    echo "setup-browser: installing chromium and chromium-driver (Debian packages)" >&2
    export DEBIAN_FRONTEND=noninteractive NEEDRESTART_SUSPEND=1
    log=$(mktemp)
    if ! { "${sudo[@]}" apt-get update -qq && "${sudo[@]}" apt-get install -y -qq chromium chromium-driver; } >"$log" 2>&1; then
        cat "$log" >&2
        rm -f "$log"
        exit 1
    fi
    rm -f "$log"
    command -v chromium >/dev/null 2>&1 || { echo "setup-browser: /usr/bin/chromium still missing after the install" >&2; exit 1; }
fi

# Playwright's Python package is pinned in requirements.txt (so `make venv` installs it too); this
# only fills in a venv made before it was added there.
if [[ -x .venv/bin/python ]] && ! .venv/bin/python -c 'import playwright.sync_api' >/dev/null 2>&1; then
    echo "setup-browser: installing playwright (the Python driver only) into .venv" >&2
    pin=$(grep -E '^playwright==' requirements.txt || echo playwright)
    # its dependency (greenlet) is pinned in requirements.txt too: keep that version
    .venv/bin/python -m pip install --disable-pip-version-check -q "$pin" \
        $(grep -E '^greenlet==' requirements.txt || true)
fi
