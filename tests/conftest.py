# tests/apps holds the applications the integration tests serve, not tests
collect_ignore = ["apps"]

import uuid

import pytest

from apptuit_like.testing import free_port
from servers import VM_MISSING, FakeApptuit, VictoriaMetrics

ENV_VARS = ["APPTUIT_API_TOKEN", "APPTUIT_PY_TOKEN", "APPTUIT_API_ENDPOINT", "APPTUIT_TAGS",
            "APPTUIT_PY_TAGS", "APPTUIT_TIMEOUT", "APPTUIT_DISABLED",
            "APPTUIT_DISABLE_HOST_TAG", "APPTUIT_QUERY_ENDPOINT", "APPTUIT_WIRE",
            "APPTUIT_HANDLE_SIGNALS", "APPTUIT_SHUTDOWN_TIMEOUT"]


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    """No test sees the developer's own APPTUIT_* settings."""
    for name in ENV_VARS:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="session")
def vm(tmp_path_factory):
    """A real VictoriaMetrics on loopback; fails (never skips) when it is not installed."""
    try:
        server = VictoriaMetrics(str(tmp_path_factory.mktemp("victoria-metrics")))
    except FileNotFoundError:
        pytest.fail(VM_MISSING, pytrace=False)
    yield server
    server.stop()


@pytest.fixture
def own_vm():
    """A VictoriaMetrics of the test's own, which it may kill and start again."""
    server = start_own_vm()
    yield server
    server.stop()


def start_own_vm():
    try:
        return VictoriaMetrics()
    except FileNotFoundError:
        pytest.fail(VM_MISSING, pytrace=False)


@pytest.fixture
def fake():
    server = FakeApptuit()
    yield server
    server.stop()


@pytest.fixture
def own_proxy():
    """A second scripted server, e.g. to stand as a proxy."""
    server = FakeApptuit()
    yield server
    server.stop()


@pytest.fixture
def refused_endpoint():
    """An endpoint on loopback where nothing listens."""
    return "http://127.0.0.1:%d" % free_port()


@pytest.fixture
def uid():
    """A name part unique to the test, so tests sharing one server never collide."""
    return "t" + uuid.uuid4().hex[:10]
