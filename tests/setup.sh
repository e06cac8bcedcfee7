#!/usr/bin/env bash
# Shared set-up of the test and benchmark commands, sourced by tests/run.sh and
# benchmarks/run.sh. On a fresh Debian machine (as root) it installs everything
# they need: the victoria-metrics, prometheus and influxdb packages when missing
# (the tests start servers of their own from these binaries), a virtualenv, and
# the package with its test, query and plot extras (apptuit 2.4.2 included).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# the receivers the end-to-end tests send to: binary and Debian package
missing=()
for pair in victoria-metrics:victoria-metrics prometheus:prometheus influxd:influxdb; do
    command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair#*:}")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing ${missing[*]} (Debian packages)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null
fi

venv="${APPTUIT_LIKE_VENV:-.venv}"
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install -q --disable-pip-version-check -e ".[test,query,plot,dev]"
