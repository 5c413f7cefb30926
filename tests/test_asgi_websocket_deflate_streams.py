"""permessage-deflate as clients send it, against the real daemon (one worker, the
hostile test app, which echoes on /ws): an offer of ``client_max_window_bits=8`` (RFC
7692 7.1.2.2 allows 8 to 15; it was declined, the session ran uncompressed) and
messages that end with a final DEFLATE block (BFINAL set, RFC 7692 7.2.3.4: the message
after one was refused with 1007); a message of thousands of DEFLATE streams is refused
(1007), where it cost seconds of CPU."""

import os
import struct
import zlib

import pytest

from test_asgi_websocket_cases import frame_head, handshake, read_frame
from test_hostile_asgi import Served


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    s = Served(tmp_path_factory.mktemp("marks"), "--ws-ping-interval", "0")
    yield s
    s.daemon.cleanup()


def fields(head):
    return {k.lower(): v for k, v in (line.split(b": ", 1) for line in head.split(b"\r\n")[1:] if b": " in line)}


def echoed(sock, inflater):
    """The server's next message (a binary one), inflated when compressed."""
    first, payload = read_frame(sock)
    assert first & 0x0F == 0x2, (first, payload)  # not a close
    return inflater.decompress(payload + b"\0\0\xff\xff") if first & 0x40 else payload


def close(sock):
    sock.sendall(frame_head(0x88, 2) + struct.pack("!H", 1000))
    assert read_frame(sock)[0] & 0x0F == 0x8
    sock.close()


@pytest.mark.parametrize("offer, answer", [
    (b"permessage-deflate; client_max_window_bits=8", b"permessage-deflate; client_max_window_bits=8"),
    (b"permessage-deflate; client_no_context_takeover; client_max_window_bits=8",
     b"permessage-deflate; client_no_context_takeover; client_max_window_bits=8"),
    (b"permessage-deflate; client_max_window_bits=\"8\"", b"permessage-deflate; client_max_window_bits=8"),
])
def test_an_offer_of_an_eight_bit_client_window_is_accepted_and_its_messages_inflate(served, offer, answer):
    sock, head = handshake(served, b"Sec-WebSocket-Extensions: " + offer + b"\r\n")
    assert fields(head)[b"sec-websocket-extensions"] == answer
    # what a client compressing with a 2**8 window sends (zlib, and so the websockets
    # library, will not make a raw stream with it: a hand-made one, of stored and fixed-Huffman blocks whose matches
    # reach back at most 256 bytes, by compressing 256 bytes at a time with no history)
    inflater = zlib.decompressobj(-15)
    for n in range(3):
        message = (b"%d abcdefgh " % n) * 200
        data = b""
        for start in range(0, len(message), 256):
            piece = zlib.compressobj(9, zlib.DEFLATED, -9)
            data += (piece.compress(message[start:start + 256]) + piece.flush(zlib.Z_FULL_FLUSH))
            # (a full flush ends on an empty stored block, which is not final: the pieces chain)
        data = data[:-4]
        sock.sendall(frame_head(0xC2, len(data)) + data)
        assert echoed(sock, inflater) == message
    close(sock)
    served.healthy()


def test_server_max_window_bits_of_eight_is_still_declined(served):
    # zlib cannot compress a raw stream with a 2**8 window: the server cannot keep to it
    # (RFC 7692 7.1.2.1: such an offer is declined), as uvicorn's websockets stack declines it
    _, head = handshake(served, b"Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=8\r\n")
    assert b"sec-websocket-extensions" not in fields(head)


def final_block_message(compressor, message, padded):
    """``message`` as a sender that ends it with a final DEFLATE block writes it (RFC 7692
    7.2.3.4): the block with BFINAL set, then (``padded``) the header byte of an empty
    stored block whose length bytes (0x00 0x00 0xff 0xff) are left out as for any message."""
    return compressor.compress(message) + compressor.flush(zlib.Z_FINISH) + b"\x00" * padded


@pytest.mark.parametrize("takeover", [True, False])
def test_messages_after_one_ended_with_a_final_deflate_block_inflate(served, takeover):
    offer = b"permessage-deflate" + (b"" if takeover else b"; client_no_context_takeover")
    sock, head = handshake(served, b"Sec-WebSocket-Extensions: " + offer + b"\r\n")
    assert fields(head)[b"sec-websocket-extensions"] == offer
    inflater = zlib.decompressobj(-15)
    # RFC 7692's own example of such a message: "Hello" in a final block
    sock.sendall(frame_head(0xC2, 8) + bytes.fromhex("f348cdc9c90700") + b"\x00")
    assert echoed(sock, inflater) == b"Hello"
    history = b"Hello"
    for n in range(4):
        message = (b"message %d: " % n) + os.urandom(300).hex().encode() * 3
        if n % 2:  # a sender that ends some messages with a final block and some with a sync flush
            compressor = zlib.compressobj(9, zlib.DEFLATED, -15, zdict=history[-32768:]) if takeover else \
                zlib.compressobj(9, zlib.DEFLATED, -15)
            data = final_block_message(compressor, message, padded=n == 1)  # (or not: the block ends it)
        else:
            # context takeover: the sender refers back into the messages before (its
            # window is theirs, whatever ended them)
            compressor = zlib.compressobj(9, zlib.DEFLATED, -15, zdict=(history + message)[-32768 - len(message):
                                                                                              -len(message)]) \
                if takeover else zlib.compressobj(9, zlib.DEFLATED, -15)
            data = (compressor.compress(message) + compressor.flush(zlib.Z_SYNC_FLUSH))[:-4]
        if n == 3:  # in two frames, the final block's end and the next bytes in the second
            sock.sendall(frame_head(0x42, len(data) - 3) + data[:-3] + frame_head(0x80, 3) + data[-3:])
        else:
            sock.sendall(frame_head(0xC2, len(data)) + data)
        assert echoed(sock, inflater) == message, n
        history += message
    close(sock)
    served.healthy()


def test_a_message_of_too_many_deflate_streams_is_refused_and_a_few_still_inflate(served):
    # each stream after a final block primes a new inflater with the window: a message of
    # millions of empty final blocks (b"\x03\x00", two bytes each) cost seconds of CPU
    sock, head = handshake(served, b"Sec-WebSocket-Extensions: permessage-deflate\r\n")
    assert b"sec-websocket-extensions" in fields(head)
    inflater = zlib.decompressobj(-15)
    prime = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = os.urandom(16000).hex().encode()  # a full window to copy for each stream after it
    data = (prime.compress(first) + prime.flush(zlib.Z_SYNC_FLUSH))[:-4]
    sock.sendall(frame_head(0xC2, len(data)) + data)
    assert echoed(sock, inflater) == first
    data = b"\x03\x00" * 3 + bytes.fromhex("f348cdc9c90700")  # three empty streams, then "Hello": 4
    sock.sendall(frame_head(0xC2, len(data)) + data)
    assert echoed(sock, inflater) == b"Hello"
    data = b"\x03\x00" * 100_000
    sock.sendall(frame_head(0xC2, len(data)) + data)
    first_byte, payload = read_frame(sock)
    assert first_byte & 0x0F == 0x8 and struct.unpack("!H", payload[:2])[0] == 1007, (first_byte, payload)
    sock.close()
    served.healthy()
