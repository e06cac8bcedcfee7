#!/usr/bin/env bash
# The project's one test command, as given in README.md and called by .ci/run.
# On a fresh Debian machine (as root) it installs everything it needs: the
# victoria-metrics package when missing, a virtualenv, the package with its test
# dependencies. Then it runs pytest; extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v victoria-metrics >/dev/null 2>&1; then
    echo "run.sh: installing victoria-metrics (Debian package)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq victoria-metrics >/dev/null
fi

venv="${APPTUIT_LIKE_VENV:-.venv}"
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install -q --disable-pip-version-check -e ".[test,query,plot]"
exec "$venv/bin/python" -m pytest "$@"
