"""The metadata agent's loop and its bounds, served on 127.0.0.1 (no root, no namespace):
keep-alive, pipelining without reading, slow senders, connections per source, strangers."""
from __future__ import annotations

import base64
import socket
import time

import pytest

from tests.helpers.waiting import wait_for
from tests.helpers.worlds import A1, PREFIX, add_instance, add_vpc
from vpclab.dataplane.agents import metadata
from vpclab.dataplane.world import World

USER_DATA = b"#!/bin/sh\n" + b"x" * 8000


@pytest.fixture
def service():
    world = World()
    subnet = add_vpc(world, A1, "vpc-1")[0]
    inst = add_instance(world, "i-0aaaaaaaaaaaaaaaa", subnet, "127.0.0.1")
    inst.user_data = base64.b64encode(USER_DATA).decode()
    inst.metadata_options = {"HttpTokens": "optional"}
    svc = metadata.MetadataService(PREFIX)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(128)
    svc.adopt("vpc-1", listener)
    svc.sync(world)
    try:
        yield svc, listener.getsockname()
    finally:
        svc.close()


def read_reply(reader) -> tuple[bytes, bytes]:
    """(status line, body) of the next reply on `reader` (the socket's `makefile("rb")`)."""
    status = reader.readline().rstrip(b"\r\n")
    length = 0
    while (line := reader.readline()) not in (b"\r\n", b""):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    return status, reader.read(length)


def closed(sock: socket.socket, timeout: float = 2.0) -> bool:
    sock.settimeout(timeout)
    try:
        while True:
            if sock.recv(65536) == b"":
                return True
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def test_keep_alive_and_pipelining(service):
    svc, address = service
    with socket.create_connection(address, timeout=5) as sock:
        sock.sendall(b"GET /latest/meta-data/instance-id HTTP/1.1\r\nHost: x\r\n\r\n"
                     b"GET /latest/meta-data/local-ipv4 HTTP/1.1\r\nHost: x\r\n\r\n")
        reader = sock.makefile("rb")
        assert read_reply(reader) == (b"HTTP/1.1 200 OK", b"i-0aaaaaaaaaaaaaaaa")
        assert read_reply(reader) == (b"HTTP/1.1 200 OK", b"127.0.0.1")
        sock.sendall(b"HEAD /latest/meta-data/instance-id HTTP/1.1\r\nConnection: close\r\n\r\n")
        data = reader.read()
        assert data.startswith(b"HTTP/1.1 200 OK") and data.endswith(b"\r\n\r\n")


def test_a_client_that_does_not_read_is_not_read_from(service):
    svc, address = service
    request = b"GET /latest/user-data HTTP/1.1\r\nHost: x\r\n\r\n"
    with socket.create_connection(address, timeout=5) as sock:
        sock.settimeout(1.0)
        sent = 0
        with pytest.raises(TimeoutError):
            for _ in range(100000):
                sock.sendall(request)
                sent += 1
        # The service holds at most what one recv brought in and one answer.
        assert svc.buffered() <= 4096 + len(USER_DATA) + 512
        sock.settimeout(5)
        reader = sock.makefile("rb")
        for _ in range(3):
            assert read_reply(reader) == (b"HTTP/1.1 200 OK", USER_DATA)
    assert sent > 0


def test_slow_senders_are_cut_off(service, monkeypatch):
    monkeypatch.setattr(metadata, "REQUEST_TIMEOUT", 0.5)
    svc, address = service
    with socket.create_connection(address, timeout=5) as sock:
        start = time.monotonic()
        sock.settimeout(0.1)
        while time.monotonic() - start < 5:
            try:
                sock.sendall(b"G")
                if sock.recv(1) == b"":
                    break
            except TimeoutError:
                continue
            except OSError:
                break
        assert time.monotonic() - start < 2.0
    with socket.create_connection(address, timeout=5) as sock:
        sock.sendall(b"GET /latest/meta-data/ami-id HTTP/1.1\r\n\r\n")
        assert read_reply(sock.makefile("rb"))[0] == b"HTTP/1.1 200 OK"


def test_connections_per_source_are_bounded(service):
    svc, address = service
    held = [socket.create_connection(address, timeout=5) for _ in range(metadata.MAX_PER_SOURCE)]
    try:
        wait_for(lambda: svc.connection_count() == metadata.MAX_PER_SOURCE, timeout=5, what="held")
        extra = socket.create_connection(address, timeout=5)
        assert closed(extra)
        extra.close()
    finally:
        for sock in held:
            sock.close()
    wait_for(lambda: svc.connection_count() == 0, timeout=5, what="released")


def test_an_address_no_instance_has_gets_nothing(service):
    svc, address = service
    stranger = socket.socket()
    stranger.bind(("127.0.0.2", 0))
    stranger.connect(address)
    assert closed(stranger)
    stranger.close()
