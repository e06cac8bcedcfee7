#!/usr/bin/env bash
# Regenerates RELIABILITY.md: the chaos and property tests, then a 10-minute soak.
# Set-up as for the tests (tests/setup.sh); extra arguments go to the script
# (e.g. --soak-minutes 1 for a quick look).
set -euo pipefail
source "$(dirname "$0")/../tests/setup.sh"
exec "$venv/bin/python" -m benchmarks.reliability "$@"
