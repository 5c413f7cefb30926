"""The journey app's WebSockets (tests/apps/asgi_journey.py) against real clients: the
``websockets`` library on prefork and on uvicorn side by side, many sockets on one
worker, a client that vanishes, and headless Chromium (EventSource and WebSocket)."""

import asyncio
import os
import socket

import pytest

from daemon import wait_until
import test_journey_asgi

websockets = pytest.importorskip("websockets")
from websockets.exceptions import ConnectionClosed, InvalidStatus  # noqa: E402
from websockets.sync.client import connect  # noqa: E402

big_file = test_journey_asgi.big_file  # the fixtures, shared
peers = test_journey_asgi.peers
LIMIT = 16 * 1024 * 1024  # ws_max_size and uvicorn's --ws-max-size, both by default


def disconnect_code(peer):
    """The code of the app's last websocket.disconnect ('' before the first)."""
    try:
        with open(os.path.join(peer.marks, "ws-disconnect")) as fh:
            return fh.read()
    except FileNotFoundError:
        return ""


def closed_by_server(ws):
    with pytest.raises(ConnectionClosed) as closed:
        ws.recv(30)
    frame = closed.value.rcvd
    return (frame.code, frame.reason) if frame is not None else None


def session(peer):
    base = f"ws://127.0.0.1:{peer.port}"
    out = []
    with connect(base + "/ws", subprotocols=["x-other", "chat"], max_size=None, proxy=None) as ws:
        out.append(("subprotocol", ws.subprotocol))
        ws.send("héllo")
        out.append(("text", ws.recv(30)))
        ws.send(b"\x00\xff binary")
        out.append(("bytes", ws.recv(30)))
        ws.send("y" * LIMIT)  # exactly the limit: taken
        out.append(("at the limit", len(ws.recv(60))))
        out.append(("pong", ws.ping(b"p").wait(30)))
        ws.send("close 4001 the app is done")
        out.append(("app closed", closed_by_server(ws)))
    with connect(base + "/ws", max_size=None, proxy=None) as ws:
        ws.send(b"z" * (LIMIT + 1))  # one byte over
        out.append(("over the limit", closed_by_server(ws)[0]))
    with connect(base + "/ws", proxy=None) as ws:
        ws.close(4002, "the client is done")
    wait_until(lambda: disconnect_code(peer) == "4002", 20, what="code 4002")
    out.append(("client closed", "4002"))
    try:
        connect(base + "/ws-deny", proxy=None)
    except InvalidStatus as refused:
        response = refused.response
        out.append(("denied", response.status_code, response.headers["www-authenticate"], bytes(response.body)))
    return out


def test_websocket_session_matches_uvicorn(peers):
    results = {peer.name: session(peer) for peer in peers}
    assert results["prefork"] == results["uvicorn"]
    assert ("over the limit", 1009) in results["prefork"]
    assert ("app closed", (4001, "the app is done")) in results["prefork"]
    assert results["prefork"][-1] == ("denied", 401, "Bearer", b"go away")


def test_a_ping_after_a_compressed_message_at_the_limit_is_not_counted_with_it(peers):
    """permessage-deflate (the websockets client offers it): a message of exactly
    ws_max_size bytes, then a ping, then a small message; the ping's payload is not
    part of the message before it (it was counted with it, and the session closed
    with 1009)."""
    for peer in peers:
        with connect(f"ws://127.0.0.1:{peer.port}/ws", max_size=None, proxy=None) as ws:
            assert "permessage-deflate" in ws.response.headers["sec-websocket-extensions"]
            ws.send("y" * LIMIT)
            assert len(ws.recv(60)) == LIMIT
            assert ws.ping(b"after the big one").wait(30)
            ws.send("small")
            assert ws.recv(30) == "small", peer.name


def test_close_frame_without_a_code_is_1005_for_the_app(peers):
    for peer in peers:
        sock = socket.create_connection(("127.0.0.1", peer.port), timeout=20)
        sock.sendall(b"GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
        data = b""
        while b"\r\n\r\n" not in data:
            data += sock.recv(65536)
        assert data.startswith(b"HTTP/1.1 101 ")
        sock.sendall(b"\x88\x80abcd")  # a masked close frame with no payload
        echo = data.partition(b"\r\n\r\n")[2]
        while len(echo) < 2:
            chunk = sock.recv(65536)
            assert chunk
            echo += chunk
        sock.close()
        assert echo[:2] == b"\x88\x00", peer.name  # the echo carries no code either (1005 never goes on the wire)
        wait_until(lambda: disconnect_code(peer) == "1005", 20,
                   what=f"{peer.name}: code 1005")


def test_a_vanishing_client_ends_the_app_quietly(peers):
    """The client's connection goes without a close frame: the app's receive() gets a
    disconnect (prefork: 1006, RFC 6455 7.1.5's code for it; uvicorn says 1005) and
    its cleanup runs; the worker logs no failure and serves on."""
    peer = peers[0]
    before = peer.log()
    with connect(f"ws://127.0.0.1:{peer.port}/ws", proxy=None) as ws:
        ws.send("still here")
        assert ws.recv(30) == "still here"
        ws.socket.shutdown(socket.SHUT_RDWR)
        wait_until(lambda: disconnect_code(peer) == "1006", 20, what="code 1006")
    assert peer.get("/state").json() == {"pool": "connected"}
    assert "ERROR" not in peer.log()[len(before):]


def open_fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def test_many_websockets_on_one_worker(peers):
    """300 sockets open at once on one worker, each echoing: all served; once they are
    closed, the worker's descriptors are back where they were."""
    peer = peers[0]
    worker = int(peer.get("/worker").text)
    before = open_fds(worker)

    async def client(i, ready, go):
        async with websockets.connect(f"ws://127.0.0.1:{peer.port}/ws", proxy=None, open_timeout=60) as ws:
            ready.append(i)
            await go.wait()
            for j in range(3):
                await ws.send(f"{i}.{j}")
                assert await asyncio.wait_for(ws.recv(), 60) == f"{i}.{j}"
            return i

    async def run():
        ready, go = [], asyncio.Event()
        tasks = [asyncio.create_task(client(i, ready, go)) for i in range(300)]
        while len(ready) < 300 and not any(t.done() for t in tasks):
            await asyncio.sleep(0.05)
        open_at_once = len(ready)
        go.set()
        return open_at_once, await asyncio.gather(*tasks)

    open_at_once, served = asyncio.run(asyncio.wait_for(run(), 180))
    assert open_at_once == 300 and sorted(served) == list(range(300))
    wait_until(lambda: open_fds(worker) <= before, 30, what="the worker's descriptors back")


@pytest.fixture(scope="module")
def chromium_binary():
    import chromium
    path, why = chromium.binary()
    if path is None:
        pytest.skip(why)
    return path


def test_event_source_and_websocket_in_headless_chromium(peers, chromium_binary, tmp_path):
    import chromium
    browser = chromium.Chromium(chromium_binary, str(tmp_path / "profile"))
    try:
        for peer in peers:
            browser.open(peer.url("/page"))
            results = wait_until(lambda: (lambda r: r if r and r["close"] and len(r["sse"]) == 3 else None)(
                browser.evaluate("window.results")), 60, what=f"{peer.name}: the page's exchanges")
            assert results["sse"] == ["auto 0", "auto 1", "auto 2"], peer.name
            assert results["protocol"] == "chat"
            assert "permessage-deflate" in results["extensions"]  # Chromium offers it; both accept
            assert results["ws"] == ["h\u00e9llo", [1, 2, 3], "length 200000"], peer.name
            assert results["close"] == [4005, "done here", True], peer.name
    finally:
        browser.close()
