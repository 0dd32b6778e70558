#!/usr/bin/env bash
# Install headless Chromium (Debian/Ubuntu package `chromium`) for tests/report/test_report_browser.py.
# Needs root (or sudo). Does nothing when chromium is already on PATH.
set -euo pipefail

if command -v chromium >/dev/null 2>&1; then
    echo "chromium already installed: $(command -v chromium)"
    exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi

$SUDO apt-get update
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y chromium
echo "installed: $(command -v chromium)"
