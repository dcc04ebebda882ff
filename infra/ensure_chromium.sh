#!/bin/sh
# Make sure Debian's chromium and chromedriver are installed (the dashboard's browser test needs both).
# Idempotent: does nothing when both are already on PATH; otherwise installs them with apt-get (as root).
set -eu

if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO="sudo"
    else
        echo "ensure_chromium: chromium and chromedriver are missing and installing them needs root" >&2
        echo "  (run as root: apt-get install chromium chromium-driver)" >&2
        exit 1
    fi
else
    SUDO=""
fi

echo "ensure_chromium: installing chromium and chromium-driver with apt-get" >&2
$SUDO apt-get update -qq
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver

if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
    echo "ensure_chromium: apt-get finished but chromium or chromedriver is still not on PATH" >&2
    exit 1
fi
