"""Messages that say what to change, tested against servers answering that way:
VictoriaMetrics on the wrong one of its two ports, and a port where nothing
listens. The client's exceptions, the reporter's error handler and the command
all carry the same text."""
import pytest
from pyformance import MetricsRegistry

from apptuit_like import Apptuit, ApptuitQueryError, ApptuitSendException, DataPoint, _cli as cli
from apptuit_like.pyformance import ApptuitReporter

POINT = DataPoint("orders", {"city": "BLR"}, 1700000000, 1.0)
HTTP_PORT_HINT = "this is VictoriaMetrics' HTTP port: send points to its OpenTSDB port"


def test_points_sent_to_the_http_port_say_which_port_takes_them(vm):
    with pytest.raises(ApptuitSendException) as raised:
        Apptuit(api_endpoint=vm.query_url).send([POINT])
    message = str(raised.value)
    assert HTTP_PORT_HINT in message and "-opentsdbHTTPListenAddr" in message
    assert "without details" not in message


def test_promql_sent_to_the_opentsdb_port_names_the_setting_to_change(vm):
    client = Apptuit(api_endpoint=vm.put_endpoint)   # no query endpoint: the put port
    with pytest.raises(ApptuitQueryError) as raised:
        client.query_promql("up", start=1700000000, end=1700000060)
    message = str(raised.value)
    assert "PromQL went to VictoriaMetrics' OpenTSDB port" in message
    assert "APPTUIT_QUERY_ENDPOINT" in message and "HTTP 400: HTTP 400" not in message


def test_apptuit_ql_against_victoria_metrics_says_to_use_promql(vm):
    with pytest.raises(ApptuitQueryError, match="does not speak Apptuit QL"):
        Apptuit(api_endpoint=vm.put_endpoint).query("fetch('x')", start=1700000000)


def test_nothing_listening_says_so_and_what_to_check(refused_endpoint):
    with pytest.raises(ApptuitSendException) as raised:
        Apptuit(api_endpoint=refused_endpoint).send([POINT])
    assert ("nothing answers at %s (connection refused): check the host and port"
            % refused_endpoint) in str(raised.value)


def handler_error(endpoint):
    """What the reporter's error handler is told when a report to ``endpoint`` fails."""
    calls = []
    registry = MetricsRegistry()
    registry.counter("orders").inc()
    reporter = ApptuitReporter(registry=registry, api_endpoint=endpoint, tags={"a": "b"},
                               error_handler=lambda *args: calls.append(args))
    with pytest.raises(ApptuitSendException):
        reporter.report_now()
    assert calls
    return calls[0][3][0]["error"]


def test_the_reporters_error_handler_gets_the_same_hint(vm):
    assert HTTP_PORT_HINT in handler_error(vm.query_url)


def test_the_command_prints_the_same_hint(vm, tmp_path, capsys):
    points = tmp_path / "points.txt"
    points.write_text("put orders 1700000000 1 city=BLR\n")
    status = cli.main(["send", str(points), "--endpoint", vm.query_url])
    out, err = capsys.readouterr()
    assert status == 1 and HTTP_PORT_HINT in out + err


def test_a_missing_token_also_names_the_endpoint_setting(tmp_path, capsys):
    points = tmp_path / "points.txt"
    points.write_text("put orders 1700000000 1 city=BLR\n")
    with pytest.raises(SystemExit) as exited:   # no endpoint: the hosted service
        cli.main(["send", str(points)])
    assert exited.value.code == 2
    out, err = capsys.readouterr()
    assert "set the environment variable APPTUIT_API_TOKEN" in out + err
    assert "APPTUIT_API_ENDPOINT (apptuit-like: --endpoint)" in out + err


def test_a_line_without_tags_says_how_to_add_them_on_the_command_line(vm, tmp_path, capsys):
    points = tmp_path / "points.txt"
    points.write_text("put orders 1700000000 1\n")
    cli.main(["send", str(points), "--endpoint", vm.put_endpoint])
    out, err = capsys.readouterr()
    assert "No tags for orders" in err and "--tag K=V" in err


def test_query_takes_milliseconds_as_send_does(vm, capsys):
    from apptuit_like._cli.main import parse_moment
    assert parse_moment("1795940000000") == parse_moment("1795940000") == 1795940000.0
    status = cli.main(["query", "up", "--promql", "--query-endpoint", vm.query_url,
                       "--start", "1795940000000", "--end", "1795940060000"])
    out, err = capsys.readouterr()
    assert status == 0 and "is before start" not in out + err


@pytest.mark.parametrize("argv", [["-v", "query", "up"], ["query", "up", "-v"],
                                  ["query", "-v", "up"]])
def test_global_options_work_before_or_after_the_command(argv):
    from apptuit_like._cli.main import build_parser
    args = build_parser().parse_args(argv)
    assert args.verbose is True and args.command == "query"
    assert build_parser().parse_args(["query", "up"]).verbose is False


@pytest.mark.parametrize("command", ["demo", "send", "query"])
def test_every_commands_help_lists_the_global_options_and_defaults(command, capsys):
    with pytest.raises(SystemExit):
        cli.main([command, "--help"])
    out = " ".join(capsys.readouterr().out.split())   # help wraps its lines
    assert "-v, --verbose" in out and "(default: " in out
    if command != "demo":
        assert "(default: APPTUIT_TIMEOUT, else 60)" in out and "retries (default: 2)" in out


def test_https_to_a_plain_http_server_says_to_use_http(fake):
    https = fake.endpoint.replace("http://", "https://")
    with pytest.raises(ApptuitSendException) as raised:
        Apptuit(api_endpoint=https).send([POINT])
    assert "does not speak TLS" in str(raised.value) and "use http://" in str(raised.value)


def test_a_wrong_path_prefix_says_to_check_it(fake):
    from servers import Reply
    fake.default = Reply(404, "<html><head><style>p {}</style></head><body><h1>Not Found"
                         "</h1></body></html>", {"Content-Type": "text/html"})
    with pytest.raises(ApptuitSendException) as raised:
        Apptuit(api_endpoint=fake.endpoint + "/metrics").send([POINT])
    message = str(raised.value)
    assert "nothing serves /metrics/api/put at %s" % fake.endpoint in message
    assert "path prefix" in message and "Not Found" in message and "<h1>" not in message


def test_a_proxys_error_page_is_quoted_as_text(fake):
    from servers import Reply
    fake.default = Reply(502, "<html><body><center><h1>502 Bad Gateway</h1></center>"
                         "<hr><center>nginx</center></body></html>",
                         {"Content-Type": "text/html"})
    assert handler_error(fake.endpoint) == "HTTP 502 Bad Gateway: 502 Bad Gateway nginx"


def test_one_point_is_a_point(refused_endpoint):
    with pytest.raises(ApptuitSendException) as raised:
        Apptuit(api_endpoint=refused_endpoint).send([POINT])
    assert raised.value.msg.startswith("Failed to send 1 of 1 point: ")


def test_a_host_name_that_does_not_resolve_says_so():
    with pytest.raises(ApptuitSendException) as raised:
        Apptuit(api_endpoint="http://metrics.invalid:4242").send([POINT])
    assert "the host name in http://metrics.invalid:4242 does not resolve" in str(raised.value)
