"""The API fuzzer (benchmarks/fuzz_api.py), small and seeded: 1,000 malformed requests over
every implemented operation, none answered 5xx or unreadable by botocore.

The full run (10,000+ requests, figures) is `python benchmarks/fuzz_api.py`; this test is
the same code with fewer requests, so a regression fails here first.
"""
from __future__ import annotations

import botocore.serialize

from benchmarks import fuzz_api  # the repository root is on sys.path (pyproject's pythonpath)
from tests.helpers.server import ServerProcess, free_port


def test_seeded_fuzz_run_finds_nothing(tmp_path):
    server = ServerProcess(tmp_path / "state", free_port(), start_timeout=60).start()
    try:
        report = fuzz_api.run(server, requests=1000, seed=1)
    finally:
        server.stop()
    summary = "\n".join(report.lines())
    assert report.sent == 1000
    assert report.server_errors == 0, summary
    assert report.unparseable == 0, summary
    assert len(report.covered) == report.operations == len(fuzz_api.operations()), summary
    assert report.integrity == "ok", summary
    assert report.alive, summary
    assert report.describe_after_restart == "ok", summary
    assert report.tracebacks == 0, summary
    # A client's bad request is at most one log line (today: none beyond start-up's).
    assert report.log_lines <= 10 + report.sent, summary
    assert not report.world_failures, summary
    assert report.ok


def test_wire_keys_are_botocores():
    """The fuzzer's recording serializer writes exactly what botocore's own one writes."""
    import random

    pool = fuzz_api.Pool({})
    for service, name in fuzz_api.operations():
        svc = fuzz_api.models.service(service)
        op = svc.operation(name)
        if op.input_shape is None:
            continue
        params = fuzz_api.Inputs(random.Random(name), pool).structure(op.input_shape)
        pairs, shapes = fuzz_api.wire(svc.protocol, op, params)
        body = botocore.serialize.create_serializer(svc.protocol).serialize_to_request(params, op)["body"]
        assert dict(pairs) == {k: str(v) for k, v in body.items()}, name
        assert set(shapes) <= set(body), name


def test_check_catches_what_an_sdk_cannot_read():
    """The oracle is not vacuous: each kind of bad response is named."""
    op = fuzz_api.models.service("ec2").operation("DescribeVpcs")
    good = (b'<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>X</Code>'
            b"<Message>m</Message></Error></Errors><RequestID>r-1</RequestID></Response>")
    assert fuzz_api.check("ec2", op, 400, {}, good) is None
    assert fuzz_api.check("ec2", op, 500, {}, good) == "status 500"
    assert "well-formed" in fuzz_api.check("ec2", op, 400, {}, good.replace(b"m</Message>", b"\x01</Message>"))
    assert "well-formed" in fuzz_api.check("ec2", op, 400, {}, b"Maximum request body size exceeded.")
    no_code = good.replace(b"<Code>X</Code>", b"")
    assert fuzz_api.check("ec2", op, 400, {}, no_code) == "error without a Code"
    no_id = good.replace(b"<RequestID>r-1</RequestID>", b"")
    assert fuzz_api.check("ec2", op, 400, {}, no_id) == "no request id"
