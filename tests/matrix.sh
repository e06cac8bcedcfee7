#!/usr/bin/env bash
# The suite on every supported Python but the default one (tests/run.sh covers
# that), one tox environment each, run one after another: the tests start their
# own servers and time-sensitive ones should not share two cores with a sibling.
# A Python that the machine lacks fails here with how to get it; none is skipped.
set -euo pipefail
source "$(dirname "$0")/setup.sh"

pyenv_root="${PYENV_ROOT:-$HOME/.pyenv}"
default="$("$venv/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
envs=()
missing=()
for version in 3.9 3.10 3.11 3.12 3.13; do
    [ "$version" = "$default" ] && continue
    found="$(ls -d "$pyenv_root"/versions/"$version".*/bin 2>/dev/null | sort -V | tail -1 || true)"
    if [ -n "$found" ]; then
        PATH="$found:$PATH"
    elif ! command -v "python$version" >/dev/null 2>&1 || ! "python$version" -c '' 2>/dev/null; then
        missing+=("$version")
    fi
    envs+=("py${version/./}")
done
if [ "${#missing[@]}" -gt 0 ]; then
    echo "matrix: Python ${missing[*]} not found. Install with 'pyenv install ${missing[*]}'" \
         "(or your distribution's python3.X package) so that python3.X is on PATH." >&2
    exit 1
fi
export PATH
joined="$(IFS=,; echo "${envs[*]}")"
echo "matrix: default Python $default ran the full suite; now $joined"
# CI keeps only the end of the output: the failures of every environment are
# repeated there, after the last environment's own report
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
status=0
"$venv/bin/tox" run -e "$joined" -- -rfE "$@" 2>&1 | tee "$log" || status=$?
if [ "$status" -ne 0 ]; then
    echo "matrix: failed ($status); the failures of every environment:"
    grep -E '^(FAILED|ERROR) |^py[0-9]+: (exit|FAIL)|^E   ' "$log" | cut -c1-400 | tail -60
fi
exit "$status"
