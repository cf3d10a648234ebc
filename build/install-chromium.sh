#!/usr/bin/env bash
# Installs Debian's headless-capable `chromium` package, used by the HTML report test (tests/Parse.Tests/HtmlReportBrowserTests.cs).
# Called by that test when no chromium is on PATH; needs root (or sudo without a password) and a reachable apt mirror.
# Exit code 0 when chromium is available afterwards.
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then exit 0; fi
if [[ $(id -u) -ne 0 ]]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then exec sudo -n "$0" "$@"; fi
  echo "install-chromium: needs root (or passwordless sudo) to run apt-get" >&2
  exit 3
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-chromium: apt-get not found (not a Debian-based system); install chromium yourself" >&2
  exit 4
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends chromium
command -v chromium >/dev/null
