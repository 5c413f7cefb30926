"""The request and response objects used as a Node developer uses them, where
prefork once differed from Node 20 (each compared with Node's own server when Node is
installed; the assertions hold without it):

- paused mode: a body read with 'readable' + read() ended with no 'end' (the read that
  took the last chunk of a body already complete asked for no more 'readable'), so a
  handler answering on 'end' never answered;
- remove_header() then setting the field again: the field framed nothing (Node's head
  clears its _removed* flags for a field it finds): 'Connection: close' kept the
  connection, and strict_content_length was switched off;
- the request's 'close' came before its 'end' when the response finished first;
- a request read to its end got an ECONNRESET 'error' when its client went during a
  streamed response (Node gives none: it was not aborted).
"""

import json
import shutil
import socket
import struct
import subprocess
import time

import pytest

from hostile import dechunked, read_to_close

NODE = shutil.which("node")

NODE_HEAD = r"""
const http = require('http'), net = require('net');
const events = [];
const log = (e) => events.push(e);
"""


def node_events(script, timeout=30):
    out = subprocess.run([NODE, "-e", NODE_HEAD + script], capture_output=True, text=True, timeout=timeout)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def paused_handler(req, res, log):
    def on_readable():
        chunk = req.read()
        log("readable " + ("null" if chunk is None else chunk.decode()))
    req.on("readable", on_readable)
    req.on("end", lambda: (log("end"), res.end("x")))


NODE_PAUSED = r"""
const server = http.createServer((req, res) => {
  req.on('readable', () => { const c = req.read(); log('readable ' + (c === null ? 'null' : c.toString())); });
  req.on('end', () => { log('end'); res.end('x'); });
});
server.listen(0, '127.0.0.1', () => {
  const c = net.connect(server.address().port, '127.0.0.1', () => {
    c.write('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\nConnection: close\r\n\r\nabc');
    setTimeout(() => c.write('def'), 100);
  });
  let got = '';
  c.on('data', (d) => { got += d; });
  c.on('close', () => { console.log(JSON.stringify({events, answered: got.endsWith('x')})); server.close(); });
});
"""


def test_paused_mode_reads_to_the_end(serve):
    def setup(server, st):
        server.on("request", lambda req, res: paused_handler(req, res, st.record))
    st = serve(setup)
    with socket.create_connection(("127.0.0.1", st.port), timeout=5) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\nConnection: close\r\n\r\nabc")
        st.wait_for(lambda e: e[0] == "readable abc")
        sock.sendall(b"def")
        assert read_to_close(sock).endswith(b"x")
    events = [e[0] for e in st.events]
    assert events == ["readable abc", "readable def", "readable null", "end"], events
    if NODE:
        node = node_events(NODE_PAUSED)
        assert node["answered"] and node["events"] == events, node


def test_connection_close_set_again_after_its_removal_closes(serve):
    def on_request(req, res):
        res.remove_header("Connection")
        res.set_header("Connection", "close")
        res.end("hi")
    st = serve(lambda server, st_: server.on("request", on_request))
    with socket.create_connection(("127.0.0.1", st.port), timeout=5) as sock:
        sock.sendall(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n")
        data = read_to_close(sock)
    assert data.count(b"HTTP/1.1 200 OK") == 1 and b"\r\nConnection: close\r\n" in data, data


def test_a_content_length_set_again_after_its_removal_is_strict(serve):
    def on_request(req, res):
        res.strict_content_length = True
        res.remove_header("Content-Length")
        res.set_header("Content-Length", "3")
        res.write("ab")
        try:
            res.end("cd")
        except Exception as exc:  # Node throws from end()
            st_.record("error", getattr(exc, "code", None))
            res.destroy() if hasattr(res, "destroy") else req.socket.destroy()
    st_ = serve(lambda server, st: server.on("request", on_request))
    with socket.create_connection(("127.0.0.1", st_.port), timeout=5) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        read_to_close(sock)
    assert st_.wait_for(lambda e: e[0] == "error") == ("error", "ERR_HTTP_CONTENT_LENGTH_MISMATCH")


NODE_CLOSE_AFTER_END = r"""
const server = http.createServer((req, res) => {
  req.on('data', (d) => log('data'));
  req.on('end', () => log('end'));
  req.on('close', () => { log('req close'); });
  res.on('close', () => log('res close'));
  res.end('x');
});
server.listen(0, '127.0.0.1', () => {
  const c = net.connect(server.address().port, '127.0.0.1', () => {
    c.write('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc');
  });
  c.on('data', () => {});
  c.on('close', () => setTimeout(() => { console.log(JSON.stringify({events})); server.close(); }, 100));
});
"""


def test_the_requests_close_comes_after_its_end(serve):
    def on_request(req, res):
        req.on("data", lambda chunk: st.record("data"))
        req.on("end", lambda: st.record("end"))
        req.on("close", lambda: st.record("req close"))
        res.on("close", lambda: st.record("res close"))
        res.end("x")
    st = serve(lambda server, st_: server.on("request", on_request))
    with socket.create_connection(("127.0.0.1", st.port), timeout=5) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc")
        read_to_close(sock)
    st.wait_for(lambda e: e[0] == "req close")
    events = [e[0] for e in st.events]
    assert events.index("end") < events.index("req close"), events
    if NODE:
        node = node_events(NODE_CLOSE_AFTER_END)["events"]
        assert node.index("end") < node.index("req close") and sorted(node) == sorted(events), (node, events)


def test_a_request_read_to_its_end_gets_no_error_when_its_client_goes(serve):
    def on_request(req, res):
        req.resume()
        req.on("error", lambda err: st.record("req error " + err.code))
        req.on("close", lambda: st.record("req close"))
        res.on("close", lambda: st.record("res close"))
        res.write("data: 1\n\n")
    st = serve(lambda server, st_: server.on("request", on_request))
    with socket.create_connection(("127.0.0.1", st.port), timeout=5) as sock:
        sock.sendall(b"GET /events HTTP/1.1\r\nHost: x\r\n\r\n")
        got = b""
        while not got.endswith(b"data: 1\n\n\r\n"):
            got += sock.recv(4096)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # the close: a reset
    st.wait_for(lambda e: e[0] == "req close")
    st.wait_for(lambda e: e[0] == "res close")
    assert not [e for e in st.events if e[0].startswith("req error")], st.events


NODE_TEXT = r"""
const server = http.createServer((req, res) => {
  res.setHeader('X-Flag', true);
  res.setHeader('Content-Type', 'text/plain');
  res.write('a\u20acb', 'latin1');
  res.write('c\ud800d');
  res.end('e\udc80f', 'ucs2');
});
server.listen(0, '127.0.0.1', () => {
  const c = net.connect(server.address().port, '127.0.0.1', () => {
    c.write('GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  });
  const chunks = [];
  c.on('data', (d) => chunks.push(d));
  c.on('close', () => {
    const data = Buffer.concat(chunks).toString('latin1');
    console.log(JSON.stringify({events: [data.slice(data.indexOf('\r\n\r\n') + 4)], flag: /x-flag: (.*)\r\n/i.exec(data)[1]}));
    server.close();
  });
});
"""


def test_text_in_nodes_encodings_and_a_boolean_field(serve):
    """'latin1' keeps the low byte of each character ("€" is 0xAC; it was "?"), a lone
    surrogate is U+FFFD in UTF-8 (it raised) and itself in ucs2, and a True field is
    "true" (it was "True"), as Node writes them."""
    def on_request(req, res):
        res.set_header("X-Flag", True)
        res.set_header("Content-Type", "text/plain")
        res.write("a\u20acb", "latin1")
        res.write("c\ud800d")
        res.end("e\udc80f", "ucs2")
    st = serve(lambda server, st_: server.on("request", on_request))
    with socket.create_connection(("127.0.0.1", st.port), timeout=5) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = read_to_close(sock)
    head, _, body = data.partition(b"\r\n\r\n")
    assert b"\r\nX-Flag: true\r\n" in head, head
    text = dechunked(body)
    assert text == b"a\xacb" + b"c\xef\xbf\xbdd" + "e\udc80f".encode("utf-16-le", "surrogatepass"), text
    if NODE:
        node = node_events(NODE_TEXT)
        assert node["flag"] == "true" and dechunked(node["events"][0].encode("latin-1")) == text, node


NODE_READER = r"""
const size = Number(process.argv[1]) || undefined;
const server = http.createServer((req, res) => {
  req.on('readable', () => { let c; while ((c = req.read(size)) !== null) { log('read ' + c.toString()); if (size) break; } });
  req.on('end', () => log('end'));
  res.end('x');
});
server.listen(0, '127.0.0.1', () => {
  const c = net.connect(server.address().port, '127.0.0.1', () => {
    c.write('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\n\r\n');
    setTimeout(() => c.write('abc'), 100);
    setTimeout(() => c.write('def'), 300);
    setTimeout(() => { c.end(); }, 700);
  });
  c.on('data', () => {});
  c.on('close', () => { console.log(JSON.stringify({events})); server.close(); });
});
"""


@pytest.mark.parametrize("size", [None, 2])
def test_a_readable_reader_keeps_its_body_when_the_response_ends_first(serve, size):
    """A 'readable' reader whose response ends at once: its body was discarded (the dump
    of a body nobody reads took it), or with read(2) the last part never came."""
    def on_request(req, res):
        def on_readable():
            while True:
                chunk = req.read(size)
                if chunk is None:
                    break
                st.record("read " + chunk.decode())
                if size:
                    break
        req.on("readable", on_readable)
        req.on("end", lambda: st.record("end"))
        res.end("x")
    st = serve(lambda server, st_: server.on("request", on_request))
    with socket.create_connection(("127.0.0.1", st.port), timeout=5) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\n\r\n")
        time.sleep(0.1)  # noqa: the body comes in two parts after the answer, as the Node side sends it
        sock.sendall(b"abc")
        st.wait_for(lambda e: e[0] == "read " + ("abc" if size is None else "ab"))
        sock.sendall(b"def")
        st.wait_for(lambda e: e[0] == "end")
    events = [e[0] for e in st.events]
    expected = ["read abc", "read def", "end"] if size is None else ["read ab", "read cd", "read ef", "end"]
    assert events == expected, events
    if NODE:
        node = node_events(NODE_READER.replace("process.argv[1]", repr(str(size or ""))))
        # (the same reads; with read(2) Node 20 gives no 'end' after the last one, where
        # prefork's read that finds the body drained brings it, as for read())
        assert [e for e in node["events"] if e != "end"] == [e for e in expected if e != "end"], node
