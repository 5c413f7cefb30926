"""A destroy made by the application (``res.destroy()``, ``req.destroy()``,
``req.socket.destroy()``, with or without an error) emits nothing inside the call but
the request's ``aborted`` of ``req.destroy()``: the request's, the response's and the
socket's events come on a later loop turn, so a listener added right after the call
hears them, in Node's order (measured on Node 20 when it is installed; the expected
orders below are those Node gave). What happens to bytes is unchanged."""

import json
import shutil
import socket
import subprocess

import pytest

from harness import read_until_close

NODE = shutil.which("node")

NODE_PROGRAM = r"""
const http = require('http'), net = require('net');
const [how, when, kind] = process.argv.slice(1);
const out = [];
const rec = (s) => out.push(s);
const server = http.createServer((req, res) => {
  const sock = req.socket;
  const attach = (tag) => {
    for (const e of ['aborted', 'error', 'close']) req.on(e, (x) => rec(`${tag}req.${e}${e === 'error' ? ':' + x.message : ''}`));
    for (const e of ['close', 'finish']) res.on(e, () => rec(`${tag}res.${e}`));
    for (const e of ['error', 'close']) sock.on(e, (x) => rec(`${tag}sock.${e}:${e === 'error' ? x.message : x}`));
  };
  attach('');
  if (kind === 'get') req.resume();
  const go = () => {
    rec('call');
    const err = new Error('boom');
    ({res: () => res.destroy(), reserr: () => res.destroy(err), req: () => req.destroy(),
      reqerr: () => req.destroy(err), sock: () => sock.destroy(), sockerr: () => sock.destroy(err)})[how]();
    rec('ret');
    attach('late:');
  };
  if (when === 'sync') go();
  else if (when === 'timer') setTimeout(go, 20);
  else if (when === 'pending') { res.write(Buffer.alloc(8 << 20)); go(); }
  else if (when === 'ended') { res.end('x'); go(); }
});
server.listen(0, '127.0.0.1', () => {
  const c = net.connect(server.address().port, '127.0.0.1', () => {
    c.write(kind === 'get' ? 'GET / HTTP/1.1\r\nHost: x\r\n\r\n'
                           : 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabcde');
  });
  c.on('error', () => {});
  c.on('close', () => setTimeout(() => { console.log(JSON.stringify(out)); process.exit(0); }, 100));
  setTimeout(() => c.destroy(), 3000);
});
"""


def node_events(how, when, kind):
    done = subprocess.run([NODE, "-e", NODE_PROGRAM, how, when, kind], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def prefork_events(serve, how, when, kind):
    def setup(server, st):
        def on_request(req, res):
            sock = req.socket

            def attach(tag):
                for e in ("aborted", "error", "close"):
                    req.on(e, lambda *a, e=e: st.record(f"{tag}req.{e}" + (f":{a[0]}" if e == "error" else "")))
                for e in ("close", "finish"):
                    res.on(e, lambda *a, e=e: st.record(f"{tag}res.{e}"))
                for e in ("error", "close"):
                    sock.on(e, lambda arg, e=e: st.record(f"{tag}sock.{e}:" + (str(arg) if e == "error"
                                                                               else str(arg).lower())))
            attach("")
            if kind == "get":
                req.resume()  # (read to its end)
            # after every close listener of the socket's close turn: the record is complete
            sock.on("close", lambda _had_error: server.loop.call_soon(st.record, "done"))

            def go():
                st.record("call")
                err = Exception("boom")
                {"res": lambda: res.destroy(), "reserr": lambda: res.destroy(err), "req": lambda: req.destroy(),
                 "reqerr": lambda: req.destroy(err), "sock": lambda: sock.destroy(),
                 "sockerr": lambda: sock.destroy(err)}[how]()
                st.record("ret")
                attach("late:")
            if when == "sync":
                go()
            elif when == "timer":
                server.loop.call_later(0.02, go)
            elif when == "pending":
                res.write(bytes(8 << 20))
                go()
            elif when == "ended":
                res.end("x")
                go()
        server.on("request", on_request)
    st = serve(setup)
    with socket.create_connection(("127.0.0.1", st.port), timeout=5) as client:
        client.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" if kind == "get"
                       else b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabcde")
        st.wait_for(lambda e: e == ("done",))
    return [e for (e,) in st.events if e != "done"]


def told(base):
    """Each event, heard by the listener added before the call and by the one added after."""
    out = []
    for event in base:
        out += [event, "late:" + event]
    return out


# Node 20's order for an upload cut short (the body not complete)
NODE_ORDER = {
    "res": ["call", "ret"] + told(["req.aborted", "res.close", "sock.close:false", "req.error:aborted", "req.close"]),
    "reserr": ["call", "ret"] + told(["sock.error:boom", "req.aborted", "res.close", "sock.close:true",
                                      "req.error:aborted", "req.close"]),
    "req": ["call", "req.aborted", "ret"] + told(["req.close", "res.close", "sock.close:false"]),
    "reqerr": ["call", "req.aborted", "ret"] + told(["sock.error:boom", "req.error:boom", "req.close",
                                                     "res.close", "sock.close:true"]),
}
NODE_ORDER["sock"] = NODE_ORDER["res"]
NODE_ORDER["sockerr"] = NODE_ORDER["reserr"]


@pytest.mark.parametrize("when", ["sync", "timer", "pending"])
@pytest.mark.parametrize("how", ["res", "reserr", "req", "reqerr", "sock", "sockerr"])
def test_destroy_events_come_after_the_call_in_nodes_order(serve, how, when):
    events = prefork_events(serve, how, when, "post")
    assert events == NODE_ORDER[how], events
    if NODE and when == "sync":
        assert node_events(how, when, "post") == NODE_ORDER[how]


@pytest.mark.parametrize("how", ["res", "sock"])
def test_a_response_ended_then_destroyed_finishes_after_the_call(serve, how):
    """``res.end(data); res.destroy()``: its bytes go out (the destroy's last try), and
    its ``finish`` and ``close`` come after the call, to listeners added after it too."""
    events = prefork_events(serve, how, "ended", "post")
    assert events[:2] == ["call", "ret"], events
    assert events[2:6] == told(["res.finish", "res.close"]), events
    assert "req.aborted" not in events  # a finished response's request is not aborted
    if NODE:
        node = node_events(how, "ended", "post")
        assert node[:6] == events[:6], node


def test_a_request_read_to_its_end_is_not_aborted_by_a_destroy_in_its_listener(serve):
    """A GET read by its 'request' listener and destroyed there: the rest of the read
    ends the request (as Node's parser does), so the close finds it read to its end: no
    'aborted', no error."""
    events = prefork_events(serve, "res", "sync", "get")
    assert events[:2] == ["call", "ret"], events
    assert not [e for e in events if "aborted" in e or "error" in e], events
    assert set(told(["res.close", "sock.close:false", "req.close"])) <= set(events), events
    if NODE:
        node = node_events("res", "sync", "get")
        assert not [e for e in node if "aborted" in e or "error" in e], node
        assert set(told(["res.close", "sock.close:false", "req.close"])) <= set(node), node


def test_a_queued_response_destroyed_tells_its_close_when_its_socket_goes(serve):
    """A pipelined response destroyed while it waits its turn: nothing inside the call;
    the response before it goes out whole and finishes, then the destroyed one's
    request is aborted and both close (Node 20: ``first finish``, ``aborted``, the
    response's ``close``, the request's ``error`` and ``close``)."""
    def setup(server, st):
        def on_request(req, res):
            if req.url == "/first":
                res.on("finish", lambda: st.record("first finish"))
                server.loop.call_later(0.05, res.end, "first")
                return
            st.record("call")
            res.destroy()
            st.record("ret")
            res.on("close", lambda: st.record("second res close"))
            req.on("aborted", lambda: st.record("second req aborted"))
            req.on("error", lambda err: st.record(f"second req error {err}"))
            req.on("close", lambda: st.record("second req close"))
        server.on("request", on_request)
    st = serve(setup)
    with socket.create_connection(("127.0.0.1", st.port), timeout=5) as client:
        client.sendall(b"GET /first HTTP/1.1\r\nHost: x\r\n\r\nGET /second HTTP/1.1\r\nHost: x\r\n\r\n")
        data = read_until_close(client)
    assert data.startswith(b"HTTP/1.1 200 OK\r\n") and data.endswith(b"first"), data
    st.wait_for(lambda e: e == ("second req close",))
    assert [e for (e,) in st.events] == ["call", "ret", "first finish", "second req aborted", "second res close",
                                         "second req error aborted", "second req close"], st.events
