"""The net Socket a listener gets (an upgraded socket, a client socket) compared with
Node v20's net.Socket: the same scenario runs in Node's http.Server upgrade listener and
in prefork's, driven by the same raw client on 127.0.0.1; the events (order, error
codes), the bytes and the FIN must agree."""

import json
import os
import socket
import subprocess
import threading
import time

import pytest

from harness import NODE, node_program
from prefork.net import Socket

NODE_SERVER = r"""
'use strict';
const http = require('http');
const server = http.createServer((req, res) => res.end('plain'));
function log(o) { process.stdout.write(JSON.stringify(o) + '\n'); }
const scenarios = {
  write_after_end(s, rec) { s.end('a'); rec(['ret', s.write('b', () => rec(['cb', 'write']))]); },
  end_after_end(s, rec) { s.end('a'); s.end('b', () => rec(['cb', 'end'])); },
  write_after_destroy(s, rec) { s.destroy(); rec(['ret', s.write('b', () => rec(['cb', 'write']))]); },
  finish_after_end(s, rec) { s.end('bye'); s.on('finish', () => rec(['finish.late'])); },
  not_half_open(s, rec) { s.allowHalfOpen = false; s.on('data', (d) => rec(['data', d.toString('latin1')])); s.write('up'); },
  half_open(s, rec) { s.on('data', (d) => rec(['data', d.toString('latin1')])); s.write('up'); s.on('end', () => { rec(['ret', s.write('after')]); s.end('done'); }); },
  corked_end(s, rec) { setTimeout(() => { s.cork(); s.cork(); s.write('a'); s.end('b'); rec(['corked', s.writableCorked, s.writableLength]); }, 20); },
  encodings(s, rec) { s.write('\u00e9'); s.write('\u00ff', 'latin1'); s.write('6869', 'hex'); s.write('aGk=', 'base64', () => rec(['cb', 'write'])); s.end('\u00e9', 'latin1', () => rec(['cb', 'end'])); },
  invalid_chunks(s, rec) {
    for (const chunk of [5, null, {}]) { try { s.write(chunk); } catch (e) { rec(['throw', e.code]); } }
    const b = Buffer.from('abc'); s.write(new Uint8Array(b)); s.end('!');
  },
  end_then_destroy_soon(s, rec) { s.end('x'); s.destroySoon(); },
  timeout_callback(s, rec) {
    const cb = () => rec(['cb', 'timeout']);
    s.setTimeout(50, cb); s.setTimeout(0, cb); s.setTimeout(50);
    s.on('timeout', () => s.end('t'));
  },
  paused_listener(s, rec) {
    s.write('up'); s.on('end', () => s.end());
    setTimeout(() => { s.pause(); s.on('data', (d) => rec(['data', d.toString('latin1')]));
                       setTimeout(() => { rec(['resume']); s.resume(); }, 200); }, 200);
  },
  late_listener_destroy(s, rec) { s.write('up'); setTimeout(() => { s.on('data', (d) => rec(['data', d.toString('latin1')])); s.destroy(); }, 200); },
};
server.on('upgrade', (req, s, head) => {
  const name = req.url.slice(1);
  const rec = (e) => log({ name, e });
  for (const ev of ['finish', 'end', 'drain', 'timeout']) s.on(ev, () => rec([ev]));
  s.on('error', (e) => rec(['error', e.code, e.message, s.destroyed]));
  s.on('close', (h) => { rec(['close', h]); log({ name, done: true }); });
  scenarios[name](s, rec);
});
server.listen(0, '127.0.0.1', () => log({ port: server.address().port }));
"""


def write_after_end(s, rec):
    s.end(b"a")
    rec("ret", s.write(b"b", lambda: rec("cb", "write")))


def end_after_end(s, rec):
    s.end(b"a")
    s.end(b"b", lambda: rec("cb", "end"))


def write_after_destroy(s, rec):
    s.destroy()
    rec("ret", s.write(b"b", lambda: rec("cb", "write")))


def finish_after_end(s, rec):
    s.end(b"bye")
    s.on("finish", lambda: rec("finish.late"))


def not_half_open(s, rec):
    s.allow_half_open = False
    s.on("data", lambda d: rec("data", d.decode("latin-1")))
    s.write(b"up")


def half_open(s, rec):
    s.on("data", lambda d: rec("data", d.decode("latin-1")))
    s.write(b"up")

    def on_end():
        rec("ret", s.write(b"after"))
        s.end(b"done")
    s.on("end", on_end)


def corked_end(s, rec):
    def later():
        s.cork()
        s.cork()
        s.write(b"a")
        s.end(b"b")
        rec("corked", s.writable_corked, s.buffered_size)
    s.loop.call_later(0.02, later)


def encodings(s, rec):
    s.write("\u00e9")
    s.write("\u00ff", "latin1")
    s.write("6869", "hex")
    s.write("aGk=", "base64", lambda: rec("cb", "write"))
    s.end("\u00e9", "latin1", lambda: rec("cb", "end"))


def invalid_chunks(s, rec):
    for chunk in (5, None, {}):
        try:
            s.write(chunk)
        except TypeError as err:
            rec("throw", err.code)
    buffer = bytearray(b"abc")
    s.write(memoryview(buffer))
    buffer[0] = ord("z")  # after the write: not what is sent
    s.end(b"!")


def end_then_destroy_soon(s, rec):
    s.end(b"x")
    s.destroy_soon()


def timeout_callback(s, rec):
    def callback():
        rec("cb", "timeout")
    s.set_timeout(0.05, callback)
    s.set_timeout(0, callback)  # no longer a listener
    s.set_timeout(0.05)
    s.on("timeout", lambda: s.end(b"t"))


def paused_listener(s, rec):
    s.write(b"up")
    s.on("end", lambda: s.end())

    def resume():
        rec("resume")
        s.resume()

    def later():
        s.pause()
        s.on("data", lambda d: rec("data", d.decode("latin-1")))
        s.loop.call_later(0.2, resume)
    s.loop.call_later(0.2, later)


def late_listener_destroy(s, rec):
    s.write(b"up")

    def later():
        s.on("data", lambda d: rec("data", d.decode("latin-1")))
        s.destroy()
    s.loop.call_later(0.2, later)


SCENARIOS = {f.__name__: f for f in (write_after_end, end_after_end, write_after_destroy, finish_after_end,
                                     not_half_open, half_open, corked_end, encodings, invalid_chunks, end_then_destroy_soon,
                                     timeout_callback,
                                     paused_listener,
                                     late_listener_destroy)}


class Recorder:
    """Events per scenario, from either server, with a wait for the socket's close."""

    def __init__(self):
        self.events = {}
        self.done = set()
        self.cond = threading.Condition()

    def add(self, name, event):
        with self.cond:
            self.events.setdefault(name, []).append(event)
            self.cond.notify_all()

    def finish(self, name):
        with self.cond:
            self.done.add(name)
            self.cond.notify_all()

    def wait_closed(self, name, timeout=10):
        deadline = time.monotonic() + timeout
        with self.cond:
            while name not in self.done:
                remaining = deadline - time.monotonic()
                assert remaining > 0, f"{name}: no close; events {self.events.get(name)}"
                self.cond.wait(remaining)
            return list(self.events.get(name, []))


@pytest.fixture(scope="module")
def node_server(tmp_path_factory):
    script = tmp_path_factory.mktemp("node") / "upgrade_server.js"
    script.write_text(NODE_SERVER)
    recorder = Recorder()

    def on_item(item):
        if item.get("done"):
            recorder.finish(item["name"])
        else:
            recorder.add(item["name"], tuple(item["e"]))
    with node_program([str(script)], on_item) as port:
        yield port, recorder


@pytest.fixture
def prefork_server(serve):
    recorder = Recorder()

    def setup(server, st):
        def on_upgrade(req, s, head):
            name = req.url[1:]

            def rec(*event):
                recorder.add(name, event)
            for ev in ("finish", "end", "drain", "timeout"):
                s.on(ev, (lambda ev: lambda: rec(ev))(ev))
            s.on("error", lambda e: rec("error", e.code, str(e), s.destroyed))

            def on_close(had_error=False):
                rec("close", had_error)
                recorder.finish(name)
            s.on("close", on_close)
            SCENARIOS[name](s, rec)
        server.on("upgrade", on_upgrade)
    st = serve(setup)
    return st.port, recorder


def drive(port, name, steps=(), timeout=10):
    """Upgrade to ``name``, run ``steps`` (bytes to send, "shut" for the client's FIN, an
    int: read that many bytes first), then read until the server closes: (bytes, "FIN"
    or "RST")."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(b"GET /%s HTTP/1.1\r\nHost: x\r\nUpgrade: probe\r\nConnection: Upgrade\r\n\r\n"
                     % name.encode())
        data = bytearray()
        for step in steps:
            if isinstance(step, int):
                while len(data) < step:
                    data += sock.recv(step - len(data))
            elif step == "shut":
                sock.shutdown(socket.SHUT_WR)
            else:
                sock.sendall(step)
        while True:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                return bytes(data), "RST"
            if not chunk:
                return bytes(data), "FIN"
            data += chunk


def both(node_server, prefork_server, name, steps=()):
    outcomes = []
    for port, recorder in (node_server, prefork_server):
        data, end = drive(port, name, steps)
        outcomes.append((data, end, recorder.wait_closed(name)))
    return outcomes


@pytest.mark.parametrize("name, steps", [
    ("write_after_end", ["shut"]),
    ("end_after_end", ["shut"]),
    ("write_after_destroy", []),
    ("finish_after_end", ["shut"]),
    ("half_open", [2, b"hello", "shut"]),
    ("corked_end", ["shut"]),
    ("encodings", ["shut"]),
    ("invalid_chunks", ["shut"]),
    ("timeout_callback", [1, "shut"]),
    ("end_then_destroy_soon", []),
    ("late_listener_destroy", [2, b"more", "shut"]),
])
def test_the_upgraded_socket_behaves_as_nodes(node_server, prefork_server, name, steps):
    """Write after end: the write's callback, then ``error`` ERR_STREAM_WRITE_AFTER_END on a
    destroyed socket and ``close(True)``, no ``finish``; after ``destroy()`` a write is
    dropped with no event; ``finish`` comes after ``end()`` returns; ``end()`` uncorks
    fully; writes take Node's encodings; no ``end`` after ``destroy()``."""
    (node_bytes, node_end, node_events), (our_bytes, our_end, our_events) = \
        both(node_server, prefork_server, name, steps)
    assert (our_bytes, our_end) == (node_bytes, node_end)
    assert sorted(our_events) == sorted(node_events), (our_events, node_events)
    after_close = our_events[[e[0] for e in our_events].index("close") + 1:]
    assert all(e[0] == "cb" for e in after_close), our_events  # no event after close
    if name in ("write_after_end", "end_after_end"):
        assert ("error", "ERR_STREAM_WRITE_AFTER_END", "write after end", True) in our_events
        assert "finish" not in [e[0] for e in our_events]


def test_a_socket_that_does_not_allow_half_open_ends_at_the_peers_fin(node_server, prefork_server):
    """``allow_half_open = False`` set by the listener: the peer's FIN is answered with
    ours, then the close (Node's allowHalfOpen: false); it was left half-open for ever."""
    (node_bytes, node_end, node_events), (our_bytes, our_end, our_events) = \
        both(node_server, prefork_server, "not_half_open", [2, b"hello", "shut"])
    assert (our_bytes, our_end) == (node_bytes, node_end) == (b"up", "FIN")
    assert our_events == node_events == [("data", "hello"), ("end",), ("finish",), ("close", False)]


def test_bytes_kept_for_a_data_listener_wait_for_resume_when_paused(node_server, prefork_server):
    """Bytes (and the FIN) read before any ``data`` listener, on a socket paused before
    its listener is added, wait for ``resume()``, as Node's paused stream keeps them
    (they were emitted at once, paused or not)."""
    (node_bytes, node_end, node_events), (our_bytes, our_end, our_events) = \
        both(node_server, prefork_server, "paused_listener", [2, b"more", "shut"])
    assert (our_bytes, our_end) == (node_bytes, node_end) == (b"up", "FIN")
    assert our_events == node_events == [("resume",), ("data", "more"), ("end",), ("finish",), ("close", False)]


def test_a_client_socket_ends_at_the_servers_fin_as_nets_connect_does(serve):
    """A client socket (``Socket.connect``, Node's ``net.connect``) does not allow half-open
    by default: the server's FIN ends it and it closes."""
    listener = socket.create_server(("127.0.0.1", 0))
    events = []
    seen = threading.Condition()

    def rec(*event):
        with seen:
            events.append(event)
            seen.notify_all()
    st = serve()
    try:
        def start():
            client = Socket.connect(st.loop, "127.0.0.1", listener.getsockname()[1])
            client.on("end", lambda: rec("end"))
            client.on("finish", lambda: rec("finish"))
            client.on("close", lambda had_error=False: rec("close", had_error))
            return client.allow_half_open
        assert st.call(start) is False
        peer, _ = listener.accept()
        with peer:
            peer.settimeout(10)
            peer.shutdown(socket.SHUT_WR)
            assert peer.recv(10) == b""  # the client's FIN in answer
        deadline = time.monotonic() + 10
        with seen:
            while ("close", False) not in events:
                assert time.monotonic() < deadline, events
                seen.wait(deadline - time.monotonic())
        assert events == [("end",), ("finish",), ("close", False)]
    finally:
        listener.close()


def test_an_end_callback_runs_when_the_socket_is_destroyed_first(serve):
    """``end(callback)`` whose ``finish`` never comes (a peer that reads nothing, then a
    ``destroy()``): the callback still runs, at the close, as Node's runs with an error."""
    called = threading.Event()

    def setup(server, st):
        def on_upgrade(req, s, head):
            s.write(b"x" * (16 * 1024 * 1024))
            s.end(callback=called.set)
            s.loop.call_later(0.1, s.destroy)
        server.on("upgrade", on_upgrade)
    st = serve(setup)
    with socket.create_connection(("127.0.0.1", st.port), timeout=10) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: probe\r\nConnection: Upgrade\r\n\r\n")
        assert called.wait(10)



NODE_CLIENT = r"""
const net = require('net');
const [port, encoding] = [Number(process.argv[2]), process.argv[3]];
const chunks = [];
const s = net.connect(port, '127.0.0.1');
s.setEncoding(encoding);
s.on('data', (d) => chunks.push(d));
s.on('end', () => process.stdout.write(JSON.stringify(chunks)));
"""

PIECES = [b"\xc3", b"\xa9x\xe2\x82", b"\xac\xf0\x9f", b"\x98\x80ab", b"c\xe2"]


def piecewise_server():
    """A raw server that sends PIECES to each client apart, then its FIN."""
    listener = socket.create_server(("127.0.0.1", 0))

    def serve_one():
        while True:
            try:
                peer, _ = listener.accept()
            except OSError:
                return
            with peer:
                for piece in PIECES:
                    peer.sendall(piece)
                    time.sleep(0.03)  # apart, so that a character is split between reads
                peer.shutdown(socket.SHUT_WR)
                peer.recv(1)
    threading.Thread(target=serve_one, daemon=True).start()
    return listener


@pytest.mark.parametrize("encoding", ["utf8", "latin1", "hex", "base64", "utf16le"])
def test_set_encoding_decodes_across_reads_as_nodes(serve, tmp_path, encoding):
    """``set_encoding`` on a client socket: ``data`` events are ``str``, a character split
    between reads is never cut, and the end flushes what is held, as Node's."""
    if NODE is None:
        pytest.skip("node is not installed")
    listener = piecewise_server()
    port = listener.getsockname()[1]
    try:
        script = tmp_path / "client.js"
        script.write_text(NODE_CLIENT)
        node_chunks = json.loads(subprocess.run([NODE, str(script), str(port), encoding], capture_output=True,
                                                timeout=30, check=True).stdout)
        chunks = []
        ended = threading.Event()
        st = serve()

        def start():
            client = Socket.connect(st.loop, "127.0.0.1", port)
            client.set_encoding(encoding)
            client.on("data", chunks.append)
            client.on("end", ended.set)
        st.call(start)
        assert ended.wait(10)
        assert all(isinstance(chunk, str) for chunk in chunks)
        assert "".join(chunks) == "".join(node_chunks)
        if encoding == "utf8":
            assert "".join(chunks) == "\u00e9x\u20ac\U0001F600abc\ufffd"
    finally:
        listener.close()


def test_close_follows_an_error_listener_that_raises(serve):
    """A socket's ``error`` listener raises: the worker logs it and the ``close`` still
    comes (it was never emitted: the server kept counting the handed-off socket, so its
    ``close()`` never completed)."""
    closed = threading.Event()

    def setup(server, st):
        def on_upgrade(req, s, head):
            def raising(err):
                raise RuntimeError("listener bug")
            s.on("error", raising)
            s.on("close", lambda had_error=False: st.record("close", had_error))
            s.destroy(ConnectionAbortedError("gone"))
        server.on("upgrade", on_upgrade)
    st = serve(setup)
    with socket.create_connection(("127.0.0.1", st.port), timeout=10) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: probe\r\nConnection: Upgrade\r\n\r\n")
        st.wait_for(lambda e: e == ("close", True), 10)
    st.call(st.server.close, lambda *_: closed.set())
    assert closed.wait(10)  # the server counts no socket left


@pytest.mark.parametrize("event", ["end", "finish"])
def test_the_socket_closes_after_an_end_or_finish_listener_that_raises(serve, event):
    """Both sides have ended and an ``end`` (or ``finish``) listener raises: the socket
    still closes (it stayed open for ever, its descriptor and the server's count held)."""
    def setup(server, st):
        def on_upgrade(req, s, head):
            def raising():
                raise RuntimeError("listener bug")
            s.on(event, raising)
            s.on("close", lambda had_error=False: st.record("close", had_error))
            s.on("data", lambda data: None)
            if event == "end":
                s.end(b"bye")
            else:
                s.on("end", lambda: s.end(b"bye"))
        server.on("upgrade", on_upgrade)
    st = serve(setup)
    with socket.create_connection(("127.0.0.1", st.port), timeout=10) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: probe\r\nConnection: Upgrade\r\n\r\n")
        sock.shutdown(socket.SHUT_WR)
        st.wait_for(lambda e: e == ("close", False), 10)


NODE_STATE_SERVER = r"""
const http = require('http');
const server = http.createServer();
function snap(s, at) {
  console.log(JSON.stringify([at, s.readyState, s.writableEnded, s.writableFinished, s.readableEnded, s.destroyed,
                              s.pending, s.writable, s.readable, s.writableLength > 0, s.writableNeedDrain]));
}
server.on('upgrade', (req, s, head) => {
  snap(s, 'upgrade');
  s.on('data', () => {});
  s.on('end', () => { snap(s, 'end'); s.end('x'); snap(s, 'after end()'); });
  s.on('finish', () => snap(s, 'finish'));
  s.on('close', () => { snap(s, 'close'); process.exit(0); });
  s.on('drain', () => snap(s, 'drain'));
  s.write(Buffer.alloc(BIG)); snap(s, 'big write');
});
server.listen(0, '127.0.0.1', () => console.log(JSON.stringify(server.address().port)));
"""
BIG = 8 * 1024 * 1024


def state_client(port):
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: probe\r\nConnection: Upgrade\r\n\r\n")
        got = 0
        while got < BIG:
            chunk = sock.recv(65536)
            assert chunk
            got += len(chunk)
        sock.shutdown(socket.SHUT_WR)
        assert sock.recv(10) == b"x" and sock.recv(10) == b""


def test_the_sockets_state_over_time_is_nodes(serve, tmp_path):
    """``ready_state``, ``writable_ended``/``writable_finished``, ``readable_ended``,
    ``destroyed``, ``pending``, ``writable``/``readable``, ``writable_length`` and
    ``writable_need_drain`` at each step of a socket's life read as Node's do."""
    if NODE is None:
        pytest.skip("node is not installed")
    script = tmp_path / "state.js"
    script.write_text(NODE_STATE_SERVER.replace("BIG", str(BIG)))
    node = subprocess.Popen([NODE, str(script)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        state_client(json.loads(node.stdout.readline()))
        node_states = [json.loads(line) for line in node.stdout]
    finally:
        node.kill()
        node.wait(5)
        node.stdout.close()
    states = []
    done = threading.Event()

    def snap(s, at):
        states.append([at, s.ready_state, s.writable_ended, s.writable_finished, s.readable_ended, s.destroyed,
                       s.pending, s.writable, s.readable, s.writable_length > 0, s.writable_need_drain])

    def setup(server, st):
        def on_upgrade(req, s, head):
            snap(s, "upgrade")
            s.on("data", lambda data: None)

            def on_end():
                snap(s, "end")
                s.end(b"x")
                snap(s, "after end()")
            s.on("end", on_end)
            s.on("finish", lambda: snap(s, "finish"))
            s.on("close", lambda had_error=False: (snap(s, "close"), done.set()))
            s.on("drain", lambda: snap(s, "drain"))
            s.write(bytes(BIG))
            snap(s, "big write")
        server.on("upgrade", on_upgrade)
    st = serve(setup)
    state_client(st.port)
    assert done.wait(10)
    assert states == node_states


def test_set_keep_alive_sets_the_probes_as_nodes_does(serve):
    """``set_keep_alive(True, 7)``: SO_KEEPALIVE on, the first probe after 7 idle seconds,
    then one a second, ten in all (libuv's TCP_KEEPINTVL and TCP_KEEPCNT, as Node 20 sets
    them: the kernel's 75 s and 9 took about 11 minutes to notice a vanished peer);
    ``set_keep_alive(False)``: off (Node's setKeepAlive, its delay in seconds here)."""
    seen = {}

    def setup(server, st):
        def on_connection(s):
            probe = socket.socket(fileno=os.dup(s.fileno()))
            try:
                s.set_keep_alive(True, 7)
                seen["on"] = (probe.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE),
                              probe.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE),
                              probe.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL),
                              probe.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT))
                s.set_keep_alive(False)
                seen["off"] = probe.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE)
            finally:
                probe.close()
            st.record("checked")
        server.on("connection", on_connection)
    st = serve(setup)
    with socket.create_connection(("127.0.0.1", st.port), timeout=10):
        st.wait_for(lambda e: e == ("checked",), 10)
    assert seen == {"on": (1, 7, 1, 10), "off": 0}


def test_a_write_callback_runs_when_a_reset_keeps_its_bytes_from_the_kernel(serve):
    """A large write's callback waits for the kernel to take its bytes; the peer resets
    first: the callback still runs (Node calls it with the error), before ``close``; it
    was dropped, so a coroutine awaiting it waited for ever."""
    def setup(server, st):
        def on_upgrade(req, s, head):
            s.on("error", lambda err: st.record("error", err.code))
            s.on("close", lambda had_error=False: st.record("close", had_error))
            s.write(bytes(32 * 1024 * 1024), lambda: st.record("written"))
            st.record("queued", s.writable_length > 0)
        server.on("upgrade", on_upgrade)
    st = serve(setup)
    sock = socket.create_connection(("127.0.0.1", st.port), timeout=10)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: probe\r\nConnection: Upgrade\r\n\r\n")
        assert st.wait_for(lambda e: e[0] == "queued", 10) == ("queued", True)
    finally:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\0\0\0\0\0\0\0")
        sock.close()  # a reset
    st.wait_for(lambda e: e == ("close", True), 10)
    names = [e[0] for e in st.events]
    assert "written" in names and names.index("written") < names.index("close"), st.events


def test_no_drain_after_destroy(serve):
    """A drain due on the next loop turn (a write the kernel took whole while one was
    awaited) and a ``destroy()`` before it: no ``drain`` (it came after the destroy)."""
    def setup(server, st):
        def on_upgrade(req, s, head):
            s.on("drain", lambda: st.record("drain"))
            s.on("close", lambda had_error=False: st.record("close", had_error))
            s.want_drain()
            s.write(b"x")  # taken whole: the awaited drain is due on the next turn
            s.destroy()
        server.on("upgrade", on_upgrade)
    st = serve(setup)
    with socket.create_connection(("127.0.0.1", st.port), timeout=10) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: probe\r\nConnection: Upgrade\r\n\r\n")
        st.wait_for(lambda e: e[0] == "close", 10)
    st.call(lambda: None)  # every callback queued before the close has run
    assert st.events == [("close", False)]


NODE_CONNECT_CLIENT = r"""
const net = require('net');
const events = [];
const s = net.connect(Number(process.argv[2]), '127.0.0.1');
for (const ev of ['connect', 'ready', 'end', 'finish']) s.on(ev, () => events.push(ev));
s.on('close', () => { events.push('close'); process.stdout.write(JSON.stringify(events)); });
"""


def test_a_client_socket_emits_connect_then_ready_as_nodes(serve, tmp_path):
    """``connect`` then ``ready`` (``ready`` was never emitted), and the server's FIN ends
    both sides, in Node's order."""
    if NODE is None:
        pytest.skip("node is not installed")
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def closing_peer():
        peer, _ = listener.accept()
        with peer:
            peer.shutdown(socket.SHUT_WR)
            peer.settimeout(10)
            peer.recv(1)
    try:
        script = tmp_path / "client.js"
        script.write_text(NODE_CONNECT_CLIENT)
        peer = threading.Thread(target=closing_peer)
        peer.start()
        node_events = json.loads(subprocess.run([NODE, str(script), str(port)], capture_output=True,
                                                timeout=30, check=True).stdout)
        peer.join(10)
        events = []
        closed = threading.Event()
        st = serve()

        def start():
            client = Socket.connect(st.loop, "127.0.0.1", port)
            for ev in ("connect", "ready", "end", "finish"):
                client.on(ev, (lambda ev: lambda: events.append(ev))(ev))
            client.on("close", lambda had_error=False: (events.append("close"), closed.set()))
        peer = threading.Thread(target=closing_peer)
        peer.start()
        st.call(start)
        assert closed.wait(10)
        peer.join(10)
        assert events == node_events == ["connect", "ready", "end", "finish", "close"]
    finally:
        listener.close()
