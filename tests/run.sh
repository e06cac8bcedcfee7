#!/usr/bin/env bash
# The project's one test command, as given in README.md and called by .ci/run.
# It does its own set-up (tests/setup.sh), then runs pytest; extra arguments go
# to pytest.
set -euo pipefail
source "$(dirname "$0")/setup.sh"
exec "$venv/bin/python" -m pytest "$@"
