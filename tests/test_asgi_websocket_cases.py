"""WebSocket edges against the real daemon (one worker, the hostile test app): how a
large message that arrives a little at a time costs the worker, and how a client's
several permessage-deflate offers are negotiated."""

import base64
import os
import struct
import threading
import time
import zlib

import pytest

from daemon import wait_until
from test_hostile_asgi import Served

websockets = pytest.importorskip("websockets")
from websockets.sync.client import connect  # noqa: E402


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    s = Served(tmp_path_factory.mktemp("marks"), "--ws-ping-interval", "0")
    yield s
    s.daemon.cleanup()


def handshake(served, extra=b""):
    """A raw handshake on /ws (the app echoes); the socket and the response head."""
    sock = served.connect()
    key = base64.b64encode(os.urandom(16))
    sock.sendall(b"GET /ws HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
                 b"Sec-WebSocket-Key: " + key + b"\r\nSec-WebSocket-Version: 13\r\n" + extra + b"\r\n")
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(1)
        assert chunk, head
        head += chunk
    assert head.startswith(b"HTTP/1.1 101 "), head
    return sock, head


def frame_head(first, length, key=b"\0\0\0\0"):
    """A masked client frame's header (a zero key leaves the payload as it is)."""
    if length < 126:
        return bytes((first, 0x80 | length)) + key
    if length < 65536:
        return bytes((first, 0x80 | 126)) + struct.pack("!H", length) + key
    return bytes((first, 0x80 | 127)) + struct.pack("!Q", length) + key


def recv_exactly(sock, n):
    data = bytearray()
    while len(data) < n:
        chunk = sock.recv(min(n - len(data), 1 << 20))
        assert chunk, f"closed after {len(data)} of {n} bytes"
        data += chunk
    return bytes(data)


def read_frame(sock):
    """(first byte, payload) of the next server frame."""
    first, second = recv_exactly(sock, 2)
    length = second & 0x7F
    if length == 126:
        length = struct.unpack("!H", recv_exactly(sock, 2))[0]
    elif length == 127:
        length = struct.unpack("!Q", recv_exactly(sock, 8))[0]
    return first, recv_exactly(sock, length)


def worker_cpu(pid):
    """The process's user + system CPU time, in clock ticks."""
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rpartition(")")[2].split()
    return int(fields[11]) + int(fields[12])


def unread(port, client_port):
    """Bytes the server side of the connection from ``client_port`` has received and
    not yet read (its receive queue, from /proc/net/tcp)."""
    with open("/proc/net/tcp") as fh:
        for line in list(fh)[1:]:
            fields = line.split()
            local, remote = fields[1], fields[2]
            if int(local.rsplit(":", 1)[1], 16) == port and int(remote.rsplit(":", 1)[1], 16) == client_port:
                return int(fields[4].split(":")[1], 16)
    return 0


def test_a_large_message_arriving_in_small_reads_costs_its_length_not_its_square(served):
    # 8 MiB in 16 KiB pieces, each read by the worker before the next is sent: the
    # plain frame is kept until whole, and each read must only add to it
    size, piece = 8 << 20, 16 << 10
    payload = bytes(range(256)) * (size // 256)
    sock, _ = handshake(served)
    client_port = sock.getsockname()[1]
    before = worker_cpu(served.worker)
    sock.sendall(frame_head(0x82, size))
    for start in range(0, size, piece):
        sock.sendall(payload[start:start + piece])
        wait_until(lambda: unread(served.port, client_port) == 0, 10, interval=0.0005,
                   what="the worker reading the piece")
    first, echoed = read_frame(sock)
    spent = (worker_cpu(served.worker) - before) / os.sysconf("SC_CLK_TCK")
    assert first == 0x82 and echoed == payload
    # copying the whole kept frame on each of the 512 reads was about 8 GiB of copies
    # (seconds of CPU); taking each piece as it comes is a few tens of milliseconds
    assert spent < 1.0, f"the worker spent {spent:.2f} s of CPU on one 8 MiB message"
    sock.sendall(frame_head(0x88, 2) + struct.pack("!H", 1000))
    assert read_frame(sock)[0] == 0x88
    sock.close()
    served.healthy()


def compressed(data, bits=15):
    """``data`` deflated as a permessage-deflate message with a window of ``bits``."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -bits)
    return (compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH))[:-4]


@pytest.mark.parametrize("offers, agreed", [
    # the first acceptable offer is taken; what a later one asks for is not mixed in
    (b"permessage-deflate, permessage-deflate; client_max_window_bits=9",
     b"permessage-deflate"),
    (b"permessage-deflate; client_max_window_bits=9; client_no_context_takeover, permessage-deflate",
     b"permessage-deflate; client_no_context_takeover; client_max_window_bits=9"),
    # a declined offer (a window out of range) leaves nothing behind for the next one
    (b"permessage-deflate; client_no_context_takeover; client_max_window_bits=7, permessage-deflate",
     b"permessage-deflate"),
])
def test_of_several_deflate_offers_the_first_acceptable_one_is_used_as_answered(served, offers, agreed):
    sock, head = handshake(served, b"Sec-WebSocket-Extensions: " + offers + b"\r\n")
    fields = dict(line.split(b": ", 1) for line in head.split(b"\r\n")[1:] if b": " in line)
    assert fields[b"Sec-WebSocket-Extensions"] == agreed
    bits = 9 if b"client_max_window_bits=9" in agreed else 15
    # repeats 2000 bytes apart: deflate refers back further than a 2**9 window
    message = os.urandom(2000) * 4
    inflater = zlib.decompressobj(-15)  # the server keeps its context: so does the client
    for _ in range(2):  # a second message: the context kept (or not) as agreed
        data = compressed(message, bits)
        sock.sendall(frame_head(0xC2, len(data)) + data)
        first, payload = read_frame(sock)
        assert first & 0x0F == 0x2, (first, payload)  # not a close
        assert (inflater.decompress(payload + b"\0\0\xff\xff") if first & 0x40 else payload) == message
    sock.sendall(frame_head(0x88, 2) + struct.pack("!H", 1000))
    assert read_frame(sock)[0] & 0x0F == 0x8
    sock.close()
    served.healthy()


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """A daemon whose ws_max_size is 64 KiB."""
    s = Served(tmp_path_factory.mktemp("marks"), "--ws-ping-interval", "0", "--ws-max-size", "65536")
    yield s
    s.daemon.cleanup()


def test_a_frame_refused_as_too_big_is_dropped_as_it_comes_and_the_close_echo_behind_it_read(small):
    declared = 256 << 20
    sock, _ = handshake(small)
    client_port = sock.getsockname()[1]
    before = small.peak_rss()
    # the frame's first byte alone, read by the worker before the rest: the header
    # completes in bytes the session already keeps
    sock.sendall(frame_head(0x82, declared)[:1])
    wait_until(lambda: unread(small.port, client_port) == 0, 10, interval=0.001, what="the first byte read")
    sock.sendall(frame_head(0x82, declared)[1:])
    first, payload = read_frame(sock)
    assert first == 0x88 and struct.unpack("!H", payload[:2])[0] == 1009, (first, payload)
    block = b"z" * (1 << 20)
    for _ in range(declared // len(block)):  # the client goes on sending the frame, all of it
        sock.sendall(block)
    sock.sendall(frame_head(0x88, 2) + struct.pack("!H", 1009))  # then its close echo
    # the server reads the echo in step and closes: well before its 5 s close timeout
    wait_until(lambda: not small.connections(), 3, what="the worker's socket closed on the echo")
    grown = small.peak_rss() - before
    assert grown < 64 * 1024, f"the worker grew by {grown} KiB while dropping a 256 MiB frame"
    sock.close()
    small.healthy()


def resident(pid):
    """The process's resident memory now, in KiB."""
    with open(f"/proc/{pid}/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith("VmRSS:"))


@pytest.fixture(scope="module")
def roomy(tmp_path_factory):
    """The echo app with ws_max_size at 1 GiB: a message may have 262,144 frames."""
    s = Served(tmp_path_factory.mktemp("roomy"), "--ws-ping-interval", "0", "--ws-max-size", str(1 << 30))
    yield s
    s.daemon.cleanup()


def test_a_message_in_tiny_fragments_costs_about_its_size_while_it_is_assembled(roomy):
    served = roomy
    count = 100_000
    sock, _ = handshake(served)
    before = resident(served.worker)
    fragment = frame_head(0x00, 2) + b"ab"
    empty = frame_head(0x00, 0)  # counts for nothing towards ws_max_size
    sock.sendall(frame_head(0x02, 1) + b"x" + (fragment + empty) * count)
    sock.sendall(frame_head(0x89, 4) + b"sync")  # its pong says every fragment before it is taken
    sock.settimeout(60)  # (200,001 frames through wsproto: seconds on a loaded machine)
    first, payload = read_frame(sock)
    assert (first, payload) == (0x8A, b"sync")
    grown = resident(served.worker) - before
    # 200 KB of payload so far: kept as 200,000 objects (the empty ones too) it was over 6 MB
    assert grown < 3 * 1024, f"the worker grew by {grown} KiB for 200 KB of fragments"
    sock.sendall(frame_head(0x80, 1) + b"!")
    first, payload = read_frame(sock)
    assert first == 0x82 and payload == b"x" + b"ab" * count + b"!"
    sock.sendall(frame_head(0x88, 2) + struct.pack("!H", 1000))
    assert read_frame(sock)[0] == 0x88
    sock.close()
    served.healthy()


def test_a_flood_of_tiny_frames_from_one_client_does_not_stall_the_others(served):
    # one read of empty pings is about 10,000 frames: taken in one go, the worker's
    # loop was held for hundreds of milliseconds per read, for every other client
    flooder, _ = handshake(served)
    stop = threading.Event()
    ping = frame_head(0x89, 0)

    def flood():
        try:
            while not stop.is_set():
                flooder.sendall(ping * 20000)
        except OSError:
            pass

    def drain():  # the pongs are read: the flooder is no slow reader
        try:
            while not stop.is_set() and flooder.recv(1 << 20):
                pass
        except OSError:
            pass
    threads = [threading.Thread(target=flood, daemon=True), threading.Thread(target=drain, daemon=True)]
    try:
        with connect(f"ws://127.0.0.1:{served.port}/ws", compression=None, proxy=None) as ws:
            ws.send("warm")
            assert ws.recv(10) == "warm"
            for thread in threads:
                thread.start()
            wait_until(lambda: unread(served.port, flooder.getsockname()[1]) > 0, 10,
                       what="the flood reaching the worker")
            times = []
            for n in range(30):
                start = time.monotonic()
                ws.send(str(n))
                assert ws.recv(10) == str(n)
                times.append(time.monotonic() - start)
        median = sorted(times)[len(times) // 2]
        assert median < 0.1, f"echoes took {median * 1000:.0f} ms (median) during another client's flood"
    finally:
        stop.set()
        flooder.close()
        for thread in threads:
            thread.join(5)
    served.healthy()
