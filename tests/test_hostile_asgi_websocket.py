"""Hostile WebSocket clients and misbehaving WebSocket apps against the real daemon:
protocol abuse gets its RFC 6455 close code, a bad handshake its 4xx, an app's mistake a
500 or a close, and after each the same worker serves on with no descriptor left
behind. Raw frames where a client library would refuse to send them; the `websockets`
library where a real client is the point."""

import base64
import os
import socket
import struct
import zlib

import pytest

from daemon import wait_until
from harness import read_until_close
from test_asgi_websocket import masked, read_frame
from test_hostile_asgi import Served, status_of

websockets = pytest.importorskip("websockets")
from websockets.exceptions import ConnectionClosed, InvalidStatus  # noqa: E402
from websockets.sync.client import connect  # noqa: E402

MAX_SIZE = 65536


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    s = Served(tmp_path_factory.mktemp("marks"), "--ws-max-size", str(MAX_SIZE), "--ws-ping-interval", "0")
    yield s
    s.daemon.cleanup()


def handshake(served, path="/ws", key=None, version="13", extra=b"", expect=b"HTTP/1.1 101 ", then=b""):
    """A raw handshake (``then``: bytes sent right behind it); returns the socket and the
    response head."""
    sock = served.connect()
    key = key if key is not None else base64.b64encode(os.urandom(16))
    sock.sendall(b"GET " + path.encode() + b" HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
                 b"Sec-WebSocket-Key: " + key + b"\r\nSec-WebSocket-Version: " + version.encode() + b"\r\n"
                 + extra + b"\r\n" + then)
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(1)
        assert chunk, head
        head += chunk
    assert head.startswith(expect), head
    return sock, head


def close_frame(sock):
    """(code, reason) of the first close frame the server sends (other frames skipped)."""
    while True:
        opcode, payload = read_frame(sock)
        if opcode == 0x8:
            return (struct.unpack("!H", payload[:2])[0] if payload else None), payload[2:]


def url(served, path):
    return f"ws://127.0.0.1:{served.port}{path}"


# -- protocol abuse ----------------------------------------------------------------------------
ABUSE = {
    "unmasked": (bytes((0x81, 2)) + b"hi", 1002),
    "rsv1 without the extension": (masked(0xC1, b"hi"), 1002),
    "rsv2": (masked(0xA1, b"hi"), 1002),
    "reserved data opcode": (masked(0x83, b"hi"), 1002),
    "reserved control opcode": (masked(0x8B, b"hi"), 1002),
    "fragmented ping": (masked(0x09, b"hi"), 1002),
    "ping of 126 bytes": (masked(0x89, b"p" * 126), 1002),
    "ping claiming 2**62 bytes": (bytes((0x89, 0xFF)) + struct.pack("!Q", 1 << 62) + b"mask", 1002),
    # a 64-bit length with its top bit set is malformed (RFC 6455 5.2), whatever its size
    "data claiming 2**63 bytes": (bytes((0x82, 0xFF)) + struct.pack("!Q", 1 << 63) + b"mask", 1002),
    "data claiming 2**62 bytes, unmasked": (bytes((0x82, 0x7F)) + struct.pack("!Q", 1 << 62), 1002),
    # a length in more bytes than it needs is malformed: refused on either path (a whole
    # frame was taken, the same frame starting fragments was refused)
    "3 bytes with a 16-bit length": (bytes((0x81, 0x80 | 126)) + struct.pack("!H", 3) + b"\0\0\0\0abc", 1002),
    "3 bytes with a 64-bit length": (bytes((0x81, 0x80 | 127)) + struct.pack("!Q", 3) + b"\0\0\0\0abc", 1002),
    "200 bytes with a 64-bit length": (bytes((0x82, 0x80 | 127)) + struct.pack("!Q", 200) + b"\0" * 204, 1002),
    "continuation without a start": (masked(0x80, b"hi"), 1002),
    "unfinished continuation without a start": (masked(0x00, b"hi"), 1002),
    "a new message inside fragments": (masked(0x01, b"a") + masked(0x81, b"b"), 1002),
    "invalid UTF-8 text": (masked(0x81, b"\xff\xfe"), 1007),
    "invalid UTF-8 across fragments": (masked(0x01, b"ok\xe2") + masked(0x80, b"\x28\xa1"), 1007),
    "close with 1 byte": (masked(0x88, b"\x03"), 1002),
    "close code 999": (masked(0x88, struct.pack("!H", 999)), 1002),
    "close code 1005": (masked(0x88, struct.pack("!H", 1005)), 1002),
    "close code 1006": (masked(0x88, struct.pack("!H", 1006)), 1002),
    "close code 2999": (masked(0x88, struct.pack("!H", 2999)), 1002),
    "close code 5000": (masked(0x88, struct.pack("!H", 5000)), 1002),
    "close reason not UTF-8": (masked(0x88, struct.pack("!H", 1000) + b"\xff"), 1007),
    "message over the limit": (masked(0x82, b"x" * (MAX_SIZE + 1)), 1009),
}


@pytest.mark.parametrize("name", sorted(ABUSE))
def test_protocol_abuse_closes_with_its_code(served, name):
    frame, code = ABUSE[name]
    sock, _ = handshake(served)
    sock.sendall(frame)
    assert close_frame(sock)[0] == code
    assert read_until_close(sock) == b""  # and the server closes
    sock.close()
    served.healthy()


@pytest.mark.parametrize("code", [1000, 3000, 4999])
def test_valid_close_codes_are_echoed(served, code):
    (served.marks / "ws-disconnect").unlink(missing_ok=True)
    sock, _ = handshake(served)
    sock.sendall(masked(0x88, struct.pack("!H", code) + "ciao €".encode()))
    assert close_frame(sock)[0] == code
    assert served.mark("ws-disconnect") == str(code)
    assert (served.marks / "ws-disconnect-type").read_text() == "int"  # the spec's type, not an enum member
    sock.close()
    served.healthy()


def test_a_compressed_bomb_closes_with_1009_without_being_inflated(served):
    inflated = 60 << 20
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    data = compressor.compress(b"\0" * inflated) + compressor.flush(zlib.Z_SYNC_FLUSH)
    assert len(data) < MAX_SIZE  # small on the wire: only inflating it finds it too big
    before = served.peak_rss()
    # sent with the handshake: the server holds it until the accept, then takes it in one piece
    sock, head = handshake(served, extra=b"Sec-WebSocket-Extensions: permessage-deflate\r\n",
                           then=masked(0xC2, data[:-4]))
    assert b"permessage-deflate" in head
    assert close_frame(sock)[0] == 1009
    sock.close()
    grown = served.peak_rss() - before
    assert grown < 16 * 1024, f"the worker's peak memory grew by {grown} KiB"
    served.healthy()


def test_control_frames_between_compressed_fragments_leave_the_message_whole(served):
    """RFC 7692 6.2: a compressed message's fragments are one stream, and RFC 6455 5.4
    lets control frames sit between them. A ping or pong there used to end the
    compressed message: the fragments after it passed uninflated (text: a 1007, binary:
    garbage), and the next message was out of step."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)

    def deflated(data):  # the client's context is kept across messages (no takeover refused)
        return (compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH))[:-4]
    sock, head = handshake(served, extra=b"Sec-WebSocket-Extensions: permessage-deflate\r\n")
    assert b"permessage-deflate" in head
    inflater = zlib.decompressobj(-15)

    def echo():
        while True:
            opcode, payload = read_frame(sock)
            if opcode in (0x1, 0x2):
                return opcode, inflater.decompress(payload + b"\0\0\xff\xff")
            assert opcode == 0xA, (opcode, payload)  # the pong to a ping

    echoes = []
    for text, between in ((False, masked(0x89, b"pi")), (True, masked(0x8A, b"po"))):
        part = compressor.compress(b"hello ") + compressor.flush(zlib.Z_SYNC_FLUSH)  # (its 4 bytes are
        # part of the stream: only a message's last fragment drops them)
        sock.sendall(masked(0x41 if text else 0x42, part) + between + masked(0x80, deflated(b"world")))
        echoes.append(echo())
    sock.sendall(masked(0xC1, deflated(b"again")))  # the next message, in the same stream
    echoes.append(echo())
    assert echoes == [(0x2, b"hello world"), (0x1, b"hello world"), (0x1, b"again")], echoes
    sock.close()
    served.healthy()


def test_compressed_messages_within_the_limit_still_arrive(served):
    with connect(url(served, "/ws"), proxy=None, max_size=None) as ws:
        text = "é" * (MAX_SIZE // 2)  # MAX_SIZE bytes of UTF-8
        ws.send(text)
        assert ws.recv(10) == text
        ws.send(text + "x")  # one byte over
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(10)
    assert closed.value.rcvd.code == 1009
    served.healthy()


def test_fragmented_text_is_limited_in_utf8_bytes_not_characters(served):
    sock, _ = handshake(served)
    part = "€".encode() * (MAX_SIZE // 6)  # each fragment half the limit in bytes, a third in characters
    sock.sendall(masked(0x01, part) + masked(0x00, part) + masked(0x80, "€€".encode()))
    assert close_frame(sock)[0] == 1009
    sock.close()
    served.healthy()


def test_a_ping_flood_from_a_client_that_never_reads_stops_being_read(served):
    sock, _ = handshake(served)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(5)
    pings = masked(0x89, b"p" * 125) * 512
    sent = 0
    with pytest.raises(socket.timeout):
        while sent < 256 << 20:  # without backpressure the server would read (and answer) them all
            sock.sendall(pings)
            sent += len(pings)
    assert sent < 64 << 20, sent
    assert served.peak_rss() < 200 * 1024
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()
    served.healthy()


def test_an_app_sending_to_a_client_that_never_reads_waits(served):
    sock, _ = handshake(served, "/ws/flood")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    blocked, sent, peak = served.mark("flood", 60).split()
    assert blocked == "blocked" and int(sent) < 64 << 20 and int(peak) < 200 * 1024
    sock.close()
    served.healthy()


def test_messages_an_app_does_not_receive_stop_the_reading_by_their_bytes(tmp_path):
    # 32 messages of 8 MiB would be 256 MiB held for an app that is not receiving
    s = Served(tmp_path, "--ws-max-size", str(8 << 20), "--ws-ping-interval", "0")
    try:
        sock, _ = handshake(s, "/ws/sleepy")
        assert s.mark("sleepy") == "accepted"
        before = s.peak_rss()
        frame = bytes((0x82, 0xFF)) + struct.pack("!Q", 8 << 20) + b"\0\0\0\0" + b"m" * (8 << 20)  # mask of zeros
        sock.settimeout(5)
        sent = 0
        with pytest.raises(socket.timeout):
            while sent < 40:
                sock.sendall(frame)
                sent += 1
        assert sent < 8, sent
        grown = s.peak_rss() - before
        assert grown < 64 * 1024, f"the worker's peak memory grew by {grown} KiB"
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()  # unseen while the server is not reading: the app's receiving finds it
        (tmp_path / "wake").write_text("")
        wait_until(lambda: s.mark("sleepy").startswith("received"), 15, what="the app's disconnect")
        s.healthy()
    finally:
        s.daemon.cleanup()


def test_a_pong_unread_while_a_slow_app_catches_up_is_no_ping_timeout(tmp_path):
    s = Served(tmp_path, "--ws-max-size", str(4 << 20), "--ws-ping-interval", "0.2", "--ws-ping-timeout", "0.5")
    try:
        # the app sleeps 2 s before receiving: 3 MiB sent at once stop the server's reading
        # after 1 MiB, and the pong sent for its ping waits unread behind the rest
        sock, _ = handshake(s, "/ws/slow-reader?2")
        block = b"s" * (1 << 20)
        sock.sendall(b"".join(bytes((0x82, 0xFF)) + struct.pack("!Q", len(block)) + b"\0\0\0\0" + block
                              for _ in range(3)))
        pings = 0
        while True:
            opcode, payload = read_frame(sock)
            if opcode == 0x9:
                pings += 1
                sock.sendall(masked(0x8A, payload))
                continue
            break
        assert (opcode, payload) == (0x1, b"alive 3145728") and pings >= 1
        sock.close()
        s.healthy()
    finally:
        s.daemon.cleanup()


def test_a_reset_mid_frame_is_a_1006_disconnect(served):
    sock, _ = handshake(served)
    sock.sendall(masked(0x82, b"z" * 5000)[:2000])
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    (served.marks / "ws-disconnect").unlink(missing_ok=True)
    sock.close()
    assert served.mark("ws-disconnect") == "1006"
    served.healthy()


# -- the handshake --------------------------------------------------------------------------------
@pytest.mark.parametrize("key", [b"short", b"!" * 24, base64.b64encode(b"k" * 15) + b"==", base64.b64encode(b"k" * 17)])
def test_a_key_that_is_not_base64_of_16_bytes_gets_a_400(served, key):
    sock, head = handshake(served, key=key, expect=b"HTTP/1.1 400 Bad Request\r\n")
    assert b"\r\nDate: " in head and b"\r\nConnection: close\r\n" in head
    assert read_until_close(sock).startswith(b"Bad WebSocket handshake: bad Sec-WebSocket-Key")
    sock.close()
    served.healthy()


def test_another_version_gets_a_426_naming_13(served):
    sock, head = handshake(served, version="8", expect=b"HTTP/1.1 426 ")
    assert b"\r\nSec-WebSocket-Version: 13\r\n" in head
    sock.close()
    served.healthy()


@pytest.mark.parametrize("length", [b"0", b"00"])
def test_a_handshake_saying_its_body_is_empty_is_accepted(served, length):
    sock, _ = handshake(served, extra=b"Content-Length: " + length + b"\r\n")
    sock.close()
    served.healthy()


@pytest.mark.parametrize("request_head, status", [
    (b"GET /ws HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\r\n",
     400),  # no key
    (b"POST /ws HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nContent-Length: 0\r\n\r\n", 400),
    # a body on the handshake: its bytes would be read as frames
    (b"GET /ws HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
     b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nContent-Length: 6\r\n\r\n\x81\x80abcd", 400),
    (b"GET /ws HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
     b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
    # an upgrade to another protocol is served as HTTP (test_hostile_asgi.py)
    (b"GET /ws HTTP/1.1\r\nHost: h\r\nConnection: Upgrade, close\r\nUpgrade: h2c\r\n\r\n", 200),
    # without the Connection token it is no upgrade: the app answers it as HTTP
    (b"GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: close\r\n\r\n", 200),
])
def test_handshakes_that_are_not_websocket_upgrades(served, request_head, status):
    response = served.raw(request_head)
    assert status_of(response) == status, response
    if status == 200:
        assert response.endswith(b"path /ws")
    served.healthy()


@pytest.mark.parametrize("offer, accepted", [
    (b"permessage-deflate; server_max_window_bits=abc", None),
    (b"permessage-deflate; client_max_window_bits=x9", None),
    (b"permessage-deflate; client_max_window_bits=99", None),
    (b";;;,,,", None),
    (b"permessage-deflate; server_no_context_takeover", b"permessage-deflate; server_no_context_takeover"),
    # RFC 7692 5: an unknown parameter, a repeated one, server_max_window_bits without a
    # value, a value on a flag: declined; a quoted value (RFC 6455 9.1) is the value
    (b"permessage-deflate; x_unknown", None),
    (b"permessage-deflate; server_no_context_takeover; server_no_context_takeover", None),
    (b"permessage-deflate; server_max_window_bits", None),
    (b"permessage-deflate; client_no_context_takeover=1", None),
    (b'permessage-deflate; client_max_window_bits="10"', b"permessage-deflate; client_max_window_bits=10"),
    # RFC 7692 7.1.2.1: window bits have no leading zeros (uvicorn's websockets stack declines these too)
    (b"permessage-deflate; client_max_window_bits=08", None),
    (b"permessage-deflate; client_max_window_bits=010", None),
    (b"permessage-deflate; server_max_window_bits=09", None),
    (b"permessage-deflate; client_max_window_bits=+9", None),
    # RFC 6455 9.1: a quoted value's backslash escapes are read (as uvicorn's websockets stack reads them)
    (b'permessage-deflate; client_max_window_bits="1\\5"', b"permessage-deflate; client_max_window_bits=15"),
    (b'permessage-deflate; client_max_window_bits="\\9"', b"permessage-deflate; client_max_window_bits=9"),
    (b'permessage-deflate; client_max_window_bits="0\\9"', None),
    (b'permessage-deflate; client_max_window_bits="9\\"', None),
])
def test_a_malformed_deflate_offer_is_declined_not_blamed_on_the_app(served, offer, accepted):
    sock, head = handshake(served, extra=b"Sec-WebSocket-Extensions: " + offer + b"\r\n")
    lines = head.split(b"\r\n")
    assert [line.split(b": ", 1)[1] for line in lines if line.lower().startswith(b"sec-websocket-extensions:")] == \
        ([accepted] if accepted else [])
    sock.sendall(masked(0x81, b"plain" * 30))
    opcode, payload = read_frame(sock)
    assert opcode == 0x1 and (payload == b"plain" * 30 if accepted is None else len(payload) < 150)
    sock.close()
    served.healthy()
    assert "invalid literal for int()" not in served.log()


def test_subprotocols_are_offered_to_the_app_and_its_choice_is_checked(served):
    with connect(url(served, "/ws"), subprotocols=["chat", "superchat"], proxy=None) as ws:
        assert ws.subprotocol == "chat"
    with pytest.raises(InvalidStatus) as refused:  # the app picks one the client did not offer
        connect(url(served, "/ws/bad-subprotocol"), subprotocols=["chat"], proxy=None)
    assert refused.value.response.status_code == 500
    served.daemon.wait_log("unexpected subprotocol not-offered")
    served.healthy()


# -- the app misbehaves ---------------------------------------------------------------------------
@pytest.mark.parametrize("path, logged", [
    ("/ws/send-before-accept", "but got 'websocket.send'"),
    ("/ws/return-before-accept", "returned without completing handshake"),
    ("/ws/exit-before-accept", "SystemExit: 5"),  # sys.exit() ends this session only
])
def test_an_app_failing_before_its_accept_gets_a_500(served, path, logged):
    with pytest.raises(InvalidStatus) as failed:
        connect(url(served, path), proxy=None)
    assert failed.value.response.status_code == 500
    served.daemon.wait_log(logged)
    served.healthy()


def test_an_app_returning_after_its_accept_closes_with_1000(served):
    with connect(url(served, "/ws/return"), proxy=None) as ws:
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(10)
    assert closed.value.rcvd.code == 1000
    served.healthy()


def test_an_app_raising_after_its_close_keeps_its_close_code(served):
    with connect(url(served, "/ws/raise-after-close"), proxy=None) as ws:
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(10)
    assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (4321, "closing")
    served.daemon.wait_log("broke after its close")
    served.healthy()


@pytest.mark.parametrize("code", ["999", "1005", "1006", "1015", "2999", "5000", "abc"])
def test_an_app_closing_with_a_code_that_may_not_be_sent_is_closed_with_1011(served, code):
    with connect(url(served, f"/ws/close-code?{code}"), proxy=None) as ws:
        refused = ws.recv(10)
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(10)
    assert refused == ("refused: TypeError" if code == "abc" else "refused: ValueError")
    assert closed.value.rcvd.code == 1011
    served.healthy()


@pytest.mark.parametrize("query", ["101", "199", "600", "inject"])
def test_a_denial_response_that_cannot_be_sent_is_a_500(served, query):
    with pytest.raises(InvalidStatus) as failed:
        connect(url(served, f"/ws/deny?{query}"), proxy=None)
    assert failed.value.response.status_code == 500 and b"injected" not in failed.value.response.body
    served.healthy()


def test_a_send_with_both_bytes_and_text_sends_the_bytes(served):
    with connect(url(served, "/ws/both"), proxy=None) as ws:
        assert ws.recv(10) == b"bytes"
    served.healthy()


@pytest.mark.parametrize("kind, error", [("int-bytes", "TypeError"), ("int-text", "TypeError"),
                                         ("str-bytes", "TypeError"), ("neither", "RuntimeError")])
def test_a_send_whose_payload_is_not_bytes_or_str_raises_in_the_app(served, kind, error):
    before = served.peak_rss()
    with connect(url(served, "/ws/bad-send"), proxy=None) as ws:
        ws.send(kind)
        assert ws.recv(10) == f"refused: {error}"  # nothing else was sent before it
    assert served.peak_rss() - before < 64 * 1024  # 10**10 as bytes would be 10 GB of zeros
    served.healthy()


def test_receive_after_the_disconnect_answers_the_disconnect_again(served):
    with connect(url(served, "/ws/after-disconnect"), proxy=None) as ws:
        ws.close(4000)
    assert served.mark("after-disconnect") == "websocket.disconnect 4000"
    served.healthy()


def test_an_app_that_never_accepts_leaves_nothing_behind_when_the_client_goes(served):
    sock = served.connect()
    key = base64.b64encode(os.urandom(16))
    sock.sendall(b"GET /ws/never-accept HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
                 b"Sec-WebSocket-Key: " + key + b"\r\nSec-WebSocket-Version: 13\r\n\r\n")
    assert served.mark("never-accept") == "waiting"
    sock.close()
    served.healthy()


def test_many_abusive_connections_at_once_leave_the_worker_as_it_was(served):
    socks = []
    for i in range(40):
        sock, _ = handshake(served)
        sock.sendall(masked(0x82, b"q" * 3000)[:1000 + i])  # each cut at another byte
        socks.append(sock)
    wait_until(lambda: served.connections() == 40, 15, what="40 open WebSockets")
    for sock in socks:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()
    served.healthy()
