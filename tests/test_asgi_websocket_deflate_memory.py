"""permessage-deflate: the server's compressor was made with zlib's defaults (a 32 KiB
window, memory level 8: about 260 KiB a session, held while the session lives), so a
thousand open compressed WebSockets held a quarter of a gigabyte after one broadcast.
It now takes a window of at most 4 KiB and memory level 5 (uvicorn's default stack
compresses so), and what it sends still inflates with the window the client negotiated.
wsproto's own server and client connections, the handshake and frames between them."""

import tracemalloc

from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, Request, TextMessage
from wsproto.extensions import PerMessageDeflate

from prefork.asgi.deflate import BoundedDeflate

MESSAGE = "".join(f"line {i}: the quick brown fox jumps over the lazy dog\n" for i in range(2000))


def _pair():
    client = WSConnection(ConnectionType.CLIENT)
    server = WSConnection(ConnectionType.SERVER)
    server.receive_data(client.send(Request(host="x", target="/", extensions=[PerMessageDeflate()])))
    request = next(server.events())
    assert isinstance(request, Request)
    extension = BoundedDeflate(16 * 1024 * 1024)
    client.receive_data(server.send(AcceptConnection(extensions=[extension])))
    assert isinstance(next(client.events()), AcceptConnection)
    assert extension.enabled()
    return server, client


def _received(client, data):
    client.receive_data(data)
    parts = []
    for event in client.events():
        assert isinstance(event, TextMessage), event
        parts.append(event.data)
    return "".join(parts)


def test_the_server_compressor_is_small_and_its_output_inflates():
    server, client = _pair()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        first = server.send(TextMessage(data=MESSAGE))
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert held < 64 * 1024, f"{held} bytes held after the first compressed message"
    assert len(first) < len(MESSAGE) // 4  # (compressed all the same)
    assert _received(client, first) == MESSAGE
    # the context is taken over from message to message: later ones inflate too
    for n in range(3):
        assert _received(client, server.send(TextMessage(data=MESSAGE[n:]))) == MESSAGE[n:]
