"""What every test app does at import, as a user's module would: build a registry
and start a reporter; the environment says where points go (APPTUIT_API_ENDPOINT)
and which directory the processes share (APPTUIT_MULTIPROCESS_DIR); TEST_INTERVAL,
the reporting interval (the tests that stop a server set one longer than the test)."""
import os

from apptuit_like.pyformance import ApptuitReporter, MetricsRegistry

registry = MetricsRegistry()
reporter = ApptuitReporter(registry=registry, tags={"test": os.environ["TEST_UID"]},
                           reporting_interval=float(os.environ.get("TEST_INTERVAL", "0.5")))
reporter.start()

# between the three chunks of /stream: it lasts at least 0.15 s
STREAM_PAUSE = float(os.environ.get("TEST_STREAM_PAUSE", "0.05"))
