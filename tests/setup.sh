#!/usr/bin/env bash
# Shared set-up of the test and benchmark commands, sourced by tests/run.sh and
# benchmarks/run.sh. On a fresh Debian machine (as root) it installs everything
# they need: the victoria-metrics package when missing, a virtualenv, and the
# package with its test, query and plot extras (apptuit 2.4.2 included).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if ! command -v victoria-metrics >/dev/null 2>&1; then
    echo "setup: installing victoria-metrics (Debian package)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq victoria-metrics >/dev/null
fi

venv="${APPTUIT_LIKE_VENV:-.venv}"
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install -q --disable-pip-version-check -e ".[test,query,plot,dev]"
