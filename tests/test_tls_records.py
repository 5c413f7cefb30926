"""Records after the handshake however the wire is cut: requests of random sizes, their
records cut into segments at random places (a record split across reads, many records in
one read), with the client's close_notify in the same segment as the last request or
after it: every body reaches the app whole and in order, and every answer comes back
before the server closes. A hypothesis search over the cuts, on a real socket."""

import hashlib
import time

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from test_hostile_net_tls import BioClient, client_context, pki, tls_listener  # noqa: F401
from test_tls_records_edges import digest_server, post


@pytest.fixture(scope="module")
def digests(pki):  # noqa: F811
    """One server for the whole search: its TLS port."""
    from conftest import ServerThread
    server = ServerThread(digest_server)
    try:
        yield tls_listener(server, pki)
    finally:
        server.stop()


@settings(max_examples=25, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(sizes=st.lists(st.sampled_from([0, 1, 100, 16383, 16384, 16385, 70000]), min_size=1, max_size=4),
       cuts=st.lists(st.integers(1, 200_000), max_size=12), notify_alone=st.booleans())
def test_requests_cut_anywhere_arrive_whole_and_in_order(digests, pki, sizes, cuts, notify_alone):  # noqa: F811
    client = BioClient(digests, client_context(pki)).handshake()
    bodies = [bytes([65 + i]) * size for i, size in enumerate(sizes)]
    try:
        wire = b"".join(client.records(post(body)) for body in bodies)
        notify = client.close_notify()
        if not notify_alone:
            wire += notify
        at = 0
        for cut in sorted(c for c in set(cuts) if c < len(wire)) + [len(wire)]:
            client.raw.sendall(wire[at:cut])
            time.sleep(0.001)
            at = cut
        if notify_alone:
            client.raw.sendall(notify)
        answer = client.read_until_end()
    finally:
        client.close()
    got = [part.rsplit(b"\r\n\r\n", 1)[-1] for part in answer.split(b"HTTP/1.1 200 OK")[1:]]
    expected = [f"{len(body)} {hashlib.sha256(body).hexdigest()}".encode() for body in bodies]
    assert got == expected, (answer[-300:], client.alert)
