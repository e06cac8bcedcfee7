"""Packed batches: a report's batches held as their compressed bodies, cut where
lists would be, and read back point for point when a send fails."""
import gzip
import json
import random
import zlib

import pytest

from apptuit_like._encoding import encode_body, json_body, rebatch
from apptuit_like._packed import PackedBatch, batches, pack_batches, packed_body
from apptuit_like._transport import Transport
from apptuit_like._wire import get_wire

from test_encoding import random_points

JSON = ("[", ",", "]")
DECODE = {"gzip": gzip.decompress, "deflate": zlib.decompress, None: lambda body: body}


def _chunked(rng, points):
    chunks, rest = [], list(points)
    while rest:
        size = rng.randint(0, 50)
        chunks.append(rest[:size])
        rest = rest[size:]
    return chunks


@pytest.mark.parametrize("seed", range(20))
@pytest.mark.parametrize("method", ["gzip", "deflate", None])
def test_packed_batches_cut_where_lists_do_and_decode_to_the_same_bodies(seed, method):
    rng = random.Random(seed)
    points = random_points(rng, rng.randint(0, 400))   # ASCII and not
    chunks = _chunked(rng, points)
    batch_size, max_bytes = rng.randint(1, 80), rng.choice([None, rng.randint(20, 3000)])
    packed = list(pack_batches(chunks, batch_size, max_bytes, JSON, method))
    listed = list(rebatch(chunks, batch_size, max_bytes))
    assert [list(batch) for batch in packed] == listed
    assert [len(batch) for batch in packed] == [len(batch) for batch in listed]
    for batch, points_of in zip(packed, listed):
        assert DECODE[method](batch.body) == json_body(points_of)
        assert DECODE[method](batch.body) == DECODE[method](encode_body(points_of, method))


def test_a_packed_batch_reads_like_the_list_it_holds():
    points = ['{"m":"é"}', '{"m":"b"}', '{"m":"c,d"}']
    batch, = pack_batches([points[:1], points[1:]], 10, None, JSON, "gzip")
    assert isinstance(batch, PackedBatch) and len(batch) == 3
    assert batch[0] == points[0] and batch[1:] == points[1:] and list(batch) == points
    assert "3 units" in repr(batch) and "gzip" in repr(batch)


def test_influx_lines_pack_with_no_separator():
    lines = ["m,a=b v=1 1\n", "m,a=c v=2 1\n", "m,a=ü v=3 1\n"]
    wire = get_wire("influx")
    batch, = batches([lines], 10, None, wire.frame, "gzip")
    assert gzip.decompress(batch.body) == "".join(lines).encode("utf-8")
    assert list(batch) == lines


def test_a_wire_without_a_frame_is_batched_as_lists():
    units = [b"\x0a\x01", b"\x0a\x02"]
    assert list(batches([units], 1, None, get_wire("remote_write").frame, None)) == [
        [units[0]], [units[1]]]


def test_the_transport_sends_the_packed_body_only_when_it_matches_the_wire():
    points = ['{"metric":"m","tags":{"a":"b"},"value":1,"timestamp":1}']
    batch, = pack_batches([points], 10, None, JSON, "gzip")
    assert packed_body(batch, JSON, "gzip") is batch.body
    assert packed_body(batch, JSON, None) is None   # the wire renders it again
    assert packed_body(batch, ("", "", ""), "gzip") is None
    assert packed_body(points, JSON, "gzip") is None
    transport = Transport("http://127.0.0.1:9/api/put", compression=None)
    assert transport.wire.body(batch, None) == json_body(points)   # read back, not lost


@pytest.mark.parametrize("method", ["gzip", None])   # VictoriaMetrics takes no deflate
def test_a_reporter_packs_its_batches_as_it_compresses(vm, uid, method):
    """End to end: a report in several packed batches stores every series."""
    from apptuit_like.pyformance import ApptuitReporter, MetricsRegistry
    registry = MetricsRegistry()
    for i in range(250):
        registry.counter('%s{"i": "%d"}' % (uid, i)).inc(i)
    ApptuitReporter(registry=registry, api_endpoint=vm.put_endpoint, tags={"t": "x"},
                    batch_size=40, compression=method).report_now()
    found = vm.export("%s_count" % uid)
    assert sorted(s["values"][-1] for s in found) == [float(i) for i in range(250)]


def test_json_of_a_packed_batch_is_valid(uid):
    points = [json.dumps({"metric": uid, "tags": {"k": "v%d" % i}, "value": i,
                          "timestamp": 1}, separators=(",", ":")) for i in range(5000)]
    for batch in pack_batches([points[i:i + 256] for i in range(0, 5000, 256)], 2048, None,
                              JSON, "gzip"):
        decoded = json.loads(gzip.decompress(batch.body))
        assert [json.dumps(p, separators=(",", ":")) for p in decoded] == list(batch)
