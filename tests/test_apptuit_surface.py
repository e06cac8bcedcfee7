"""apptuit-py 2.4.2's public surface, walked with dir(), against ours.

Every public name of apptuit's modules, and every public attribute of its
classes' instances, exists here too, or is listed below with the reason it does
not (and in the README's "Differences from apptuit-py"). Behaviour tests run
the same code against both packages, so a difference shows as a failing case.
"""
import importlib
import types

import pytest
from pyformance import MetricsRegistry

MODULES = ["", ".apptuit_client", ".timeseries", ".utils", ".pyformance",
           ".pyformance.apptuit_reporter", ".pyformance.process_metrics"]
PACKAGES = ["apptuit", "apptuit_like"]
STDLIB_IN_THEIR_NAMESPACE = "a standard-library import visible in apptuit's module, not API"
NOT_PROVIDED = {
    ".apptuit_client.defaultdict": STDLIB_IN_THEIR_NAMESPACE,
    ".apptuit_client.lru_cache": STDLIB_IN_THEIR_NAMESPACE,
    ".apptuit_client.quote": STDLIB_IN_THEIR_NAMESPACE,
    ".timeseries.lru_cache": STDLIB_IN_THEIR_NAMESPACE,
    ".utils.lru_cache": STDLIB_IN_THEIR_NAMESPACE,
    ".utils.ascii_letters": STDLIB_IN_THEIR_NAMESPACE,
    ".utils.digits": STDLIB_IN_THEIR_NAMESPACE,
    ".apptuit_client.BASE_SLEEP_TIME_SECS":
        "apptuit's fixed retry sleep; retries here follow RetryPolicy(backoff_factor=...)",
    ".utils.VALID_REGEX": "apptuit's sanitizer internals; the sanitize functions are API",
    ".utils.APPTUIT_SANITIZE_REGEX": "apptuit's sanitizer internals",
    ".utils.PROMETHEUS_VALID_CHARSET": "apptuit's sanitizer internals",
    ".utils.REPLACE_WITH_SINGLE_UNDERSCORE_REGEX": "apptuit's sanitizer internals",
    "Apptuit.backoff_with_jitter": "apptuit's retry helper; RetryPolicy.delay() does this",
    "ApptuitReporter.client.backoff_with_jitter": "the same, on the reporter's client",
    "ProcessMetrics.collect_process_metrics":
        "apptuit stores process metrics in the registry; here ProcessMetrics.collect() "
        "returns rows reported beside it, with true cumulative values",
    "ProcessMetrics.gc_metric_names": "apptuit's bookkeeping of registry keys (see above)",
    "ProcessMetrics.thread_metrics_names": "apptuit's bookkeeping of registry keys",
    "ProcessMetrics.previous_gc_metrics": "apptuit's delta bookkeeping, not needed here",
    "ProcessMetrics.previous_resource_metrics": "apptuit's delta bookkeeping",
}


def public(obj):
    return {name for name in dir(obj) if not name.startswith("_")}


def module(package, suffix):
    return importlib.import_module(package + suffix)


@pytest.mark.parametrize("suffix", MODULES, ids=lambda s: s or "top level")
def test_every_public_name_of_apptuit_modules_exists(suffix):
    theirs, ours = module("apptuit", suffix), module("apptuit_like", suffix)
    missing = []
    for name in sorted(public(theirs)):
        value = getattr(theirs, name)
        if isinstance(value, types.ModuleType) and not value.__name__.startswith("apptuit"):
            continue   # `import os` and friends
        if not hasattr(ours, name) and suffix + "." + name not in NOT_PROVIDED:
            missing.append(name)
    assert missing == []


def instances(package):
    """One instance of each public class, built the way apptuit's users build them."""
    root, reporter_module = module(package, ""), module(package, ".pyformance")
    process = module(package, ".pyformance.process_metrics")
    query = module(package, ".apptuit_client")
    registry = MetricsRegistry()
    return {
        "Apptuit": root.Apptuit(token="t", api_endpoint="http://127.0.0.1:1"),
        "DataPoint": root.DataPoint("cpu", {"host": "a"}, 1700000000, 1.5),
        "TimeSeries": root.TimeSeries("cpu", {"host": "a"}),
        "TimeSeriesName": root.TimeSeriesName("cpu", {"host": "a"}),
        "ApptuitSendException": root.ApptuitSendException("m", 400, 1, 1, []),
        "ApptuitReporter": reporter_module.ApptuitReporter(
            registry=registry, token="t", api_endpoint="http://127.0.0.1:1"),
        "ProcessMetrics": process.ProcessMetrics(registry),
        "Output": query.Output(),
        "QueryResult": query.QueryResult(1700000000),
    }


@pytest.mark.parametrize("name", sorted(instances("apptuit")))
def test_every_public_attribute_of_apptuit_classes_exists(name):
    theirs, ours = instances("apptuit")[name], instances("apptuit_like")[name]
    missing = sorted(a for a in public(theirs) - public(ours)
                     if name + "." + a not in NOT_PROVIDED)
    assert missing == []
    nested = {"ApptuitReporter": "client"}.get(name)
    if nested:   # the reporter's client is reached as reporter.client by users too
        missing = sorted(a for a in public(getattr(theirs, nested))
                         - public(getattr(ours, nested))
                         if "%s.%s.%s" % (name, nested, a) not in NOT_PROVIDED)
        assert missing == []


@pytest.mark.parametrize("package", PACKAGES)
def test_environment_variable_names_and_constants(package):
    root = module(package, "")
    assert (root.APPTUIT_PY_TOKEN, root.APPTUIT_PY_TAGS) == ("APPTUIT_API_TOKEN", "APPTUIT_TAGS")
    assert (root.DEPRECATED_APPTUIT_PY_TOKEN, root.DEPRECATED_APPTUIT_PY_TAGS) == (
        "APPTUIT_PY_TOKEN", "APPTUIT_PY_TAGS")
    client_module = importlib.import_module(package + ".apptuit_client")
    assert client_module.MAX_TAGS_LIMIT == 25
    assert client_module.Apptuit is root.Apptuit and client_module.DataPoint is root.DataPoint
    reporter_module = module(package, ".pyformance.apptuit_reporter")
    assert reporter_module.BATCH_SIZE == 50000
    assert reporter_module.DISABLE_HOST_TAG == "APPTUIT_DISABLE_HOST_TAG"


@pytest.mark.parametrize("package", PACKAGES)
def test_strtobool(package):
    strtobool = module(package, ".utils").strtobool
    assert [strtobool(w) for w in ("y", "YES", "t", "True", "on", "1")] == [1] * 6
    assert [strtobool(w) for w in ("n", "No", "f", "false", "OFF", "0")] == [0] * 6
    with pytest.raises(ValueError):
        strtobool("maybe")


@pytest.mark.parametrize("package", PACKAGES)
@pytest.mark.parametrize("mode, name, want", [("prometheus", "a.b-c", "a_b_c"),
                                              ("apptuit", "a b", "a_b"), (None, "a b", None)])
def test_sanitizer_attribute_is_the_function_in_use(package, mode, name, want):
    client = module(package, "").Apptuit(token="t", api_endpoint="http://127.0.0.1:1",
                                         sanitize_mode=mode)
    if want is None:
        assert client.sanitizer is None
    else:
        assert client.sanitizer(name) == want


@pytest.mark.parametrize("package", PACKAGES)
def test_numeric_strings_are_values_and_other_strings_are_refused(package):
    data_point = module(package, "").DataPoint
    assert data_point("cpu", {"host": "a"}, 1700000000, "3.14").value == 3.14
    with pytest.raises(ValueError):
        data_point("cpu", {"host": "a"}, 1700000000, "abc")


@pytest.mark.parametrize("value", ["nan", "inf", "-Infinity"])
def test_non_finite_strings_are_refused_unlike_apptuit(value):
    from apptuit_like import DataPoint
    with pytest.raises(ValueError, match="cpu"):
        DataPoint("cpu", {"host": "a"}, 1700000000, value)


@pytest.mark.parametrize("package", PACKAGES)
def test_quoted_tag_key_in_environment_is_refused(package, monkeypatch):
    monkeypatch.setenv("APPTUIT_TAGS", '"tagk1":"tagv1"')
    with pytest.raises(ValueError, match="tagk1"):
        module(package, "").Apptuit(token="t", api_endpoint="http://127.0.0.1:1")


@pytest.mark.parametrize("package", PACKAGES)
def test_empty_endpoint_is_refused(package):
    with pytest.raises(ValueError):
        module(package, "").Apptuit(token="t", api_endpoint="")


@pytest.mark.parametrize("errors, status", [
    ([], None), ([], 500),
    ([{"datapoint": "cpu{host=a}", "error": "bad value"},
      {"datapoint": "mem{host=a}", "error": "bad tag"}], 400)])
def test_send_exception_str_and_repr_match(errors, status):
    import apptuit
    import apptuit_like
    theirs = apptuit.ApptuitSendException("m", status, 3, len(errors), errors)
    ours = apptuit_like.ApptuitSendException("m", status, 3, len(errors), errors)
    assert str(ours) == str(theirs) and repr(ours) == repr(theirs)
    assert str(ours).endswith("\n") and str(ours).count("\n") == 1 + len(errors)


@pytest.mark.parametrize("package", PACKAGES)
@pytest.mark.parametrize("key, tags, named", [("bad name!", {"a": "b"}, "bad name!"),
                                              ("good.name", {}, "good.name")])
def test_report_now_without_sanitizing_refuses_what_cannot_be_sent(package, refused_endpoint,
                                                                     key, tags, named):
    registry = MetricsRegistry()
    registry.counter(key).inc()
    reporter = module(package, ".pyformance").ApptuitReporter(
        registry=registry, token="t", api_endpoint=refused_endpoint, sanitize_mode=None,
        tags=tags, disable_host_tag=True)
    with pytest.raises(ValueError, match=named.replace(".", r"\.")):
        reporter.report_now()


def test_background_loop_skips_counts_and_sends_the_rest(fake, caplog):
    from apptuit_like.pyformance import ApptuitReporter
    registry = MetricsRegistry()
    registry.counter("bad name!").inc()
    registry.counter("good.name").inc(2)
    reporter = ApptuitReporter(registry=registry, api_endpoint=fake.endpoint,
                               sanitize_mode=None, tags={"a": "b"}, reporting_interval=3600)
    reporter.start()
    reporter.stop()   # the final report runs on the reporter's thread, as every cycle
    sent = {p["metric"]: p["value"] for p in fake.points()}
    assert sent["good.name.count"] == 2 and "bad name!.count" not in sent
    assert reporter.stats()["invalid"] == 1
    assert any("bad name!" in r.getMessage() for r in caplog.records)
