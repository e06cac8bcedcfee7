#!/usr/bin/env bash
# The benchmark command, as given in README.md: set-up as for the tests
# (tests/setup.sh installs apptuit 2.4.2 and victoria-metrics), plus the peers
# measured beside us (the bench extra: prometheus_client, the OpenTelemetry SDK
# and its OTLP/HTTP exporter, wavefront-pyformance, datadog, statsd), then the
# tables, also written to the untracked benchmarks/RESULTS.local.md (--update: to
# the committed benchmarks/RESULTS.md). Extra arguments go to the script.
set -euo pipefail
source "$(dirname "$0")/../tests/setup.sh"
"$venv/bin/python" -m pip install -q --disable-pip-version-check -e ".[bench]"
exec "$venv/bin/python" -m benchmarks "$@"
