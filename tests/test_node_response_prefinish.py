"""A response's ``prefinish``, as Node 20 emits it: inside ``end()`` for the response on
the socket; for a pipelined one ended while an earlier response is still on the socket,
once that one finishes, before its ``finish`` listeners (Node gives the later response
the socket then). prefork never emitted it."""

import socket

from harness import node_events

REQUESTS = "GET /1 HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\nGET /3 HTTP/1.1\r\nHost: x\r\n\r\n"

NODE_SCRIPT = r"""
let n = 0;
const s = http.createServer((req, res) => {
  const i = ++n;
  res.on('prefinish', () => log('prefinish ' + i));
  res.on('finish', () => log('finish ' + i));
  res.on('close', () => { log('close ' + i); if (i === 3) { s.close(); done(); } });
  if (i === 1) setTimeout(() => { log('end 1'); res.end('a'); log('end 1 returned'); }, 50);
  else if (i === 2) { log('end 2'); res.end('b'); log('end 2 returned'); }
  else { res.write('c'); log('end 3'); res.end(() => log('callback 3')); log('end 3 returned'); }
});
s.listen(0, '127.0.0.1', () => {
  const k = net.connect(s.address().port, '127.0.0.1', () => k.write(REQUESTS));
  k.on('data', () => {}); k.on('error', () => {});
});
""".replace("REQUESTS", repr(REQUESTS))


def test_prefinish_as_node_emits_it(serve):
    count = []

    def on_request(req, res):
        count.append(req)
        i = len(count)
        log = st.record
        res.on("prefinish", lambda: log(f"prefinish {i}"))
        res.on("finish", lambda: log(f"finish {i}"))
        res.on("close", lambda: log(f"close {i}"))

        def first():
            log("end 1")
            res.end("a")
            log("end 1 returned")
        if i == 1:
            req.socket.loop.call_later(0.05, first)
        elif i == 2:
            log("end 2")
            res.end("b")
            log("end 2 returned")
        else:
            res.write("c")
            log("end 3")
            res.end(lambda: log("callback 3"))
            log("end 3 returned")

    st = serve(lambda server, _: server.on("request", on_request))
    with socket.create_connection(("127.0.0.1", st.port), timeout=5) as sock:
        sock.sendall(REQUESTS.encode())
        st.wait_for(lambda event: event == ("close 3",))
    ours = [event[0] for event in st.events]
    theirs = node_events(NODE_SCRIPT, joined=True)
    assert theirs == ["end 2", "end 2 returned", "end 3", "end 3 returned", "end 1", "prefinish 1",
                      "end 1 returned", "prefinish 2", "finish 1", "close 1", "prefinish 3", "finish 2",
                      "close 2", "finish 3", "callback 3", "close 3"], theirs
    assert ours == theirs


def test_prefinish_of_a_lone_response_inside_end(serve):
    def on_request(req, res):
        res.on("prefinish", lambda: st.record("prefinish"))
        res.on("finish", lambda: st.record("finish"))
        st.record("end")
        res.end("x")
        st.record("end returned")

    st = serve(lambda server, _: server.on("request", on_request))
    with socket.create_connection(("127.0.0.1", st.port), timeout=5) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        st.wait_for(lambda event: event == ("finish",))
    assert [event[0] for event in st.events] == ["end", "prefinish", "end returned", "finish"]
