"""A request whose ``data`` listener read part of its body and paused it (a pipe waiting
for its destination's drain does so), answered before the rest came: Node 20's server
does not dump it at the response's finish (``resOnFinish`` dumps only a request nobody
began to consume), so the rest of the body stays buffered, paused, until the reader
resumes. prefork resumed it at the finish: the reader got ``data`` while paused."""

import socket
import time

from harness import node_events

NODE_SCRIPT = r"""
const s = http.createServer((req, res) => {
  log('request');
  req.on('data', (d) => {
    log('data ' + d.length); req.pause();
    if (!global.answered) { global.answered = 1; res.end('x'); log('ended'); }
  });
  req.on('end', () => log('req.end'));
  res.on('finish', () => { log('res.finish');
    global.finished = true; });
});
s.listen(0, '127.0.0.1', () => {
  const k = net.connect(s.address().port, '127.0.0.1', () => {
    k.write('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nhello');
    const wait = () => global.finished ? k.write('world') : setTimeout(wait, 5);
    wait();
    const check = () => s.listening && global.finished && global.req_len === 5 ? finish() : setTimeout(check, 5);
    const finish = () => { log('buffered ' + global.req_len); s.close(); k.destroy(); done(); };
    setTimeout(check, 5);
  });
  k.on('data', () => {}); k.on('error', () => {});
});
s.on('request', (req) => { const poll = () => { global.req_len = req.readableLength;
  if (global.req_len !== 5) setTimeout(poll, 5); }; poll(); });
"""


def test_a_paused_reader_gets_no_data_after_the_finish(serve):
    held = []

    def on_request(req, res):
        st.record("request")
        held.append(req)

        def on_data(chunk):
            st.record(f"data {len(chunk)}")
            req.pause()
            if len(held) == 1:
                held.append(res)
                res.end("x")
                st.record("ended")
        req.on("data", on_data)
        req.on("end", lambda: st.record("req.end"))
        res.on("finish", lambda: st.record("res.finish"))

    st = serve(lambda server, _: server.on("request", on_request))
    with socket.create_connection(("127.0.0.1", st.port), timeout=5) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nhello")
        st.wait_for(lambda event: event == ("res.finish",))
        sock.sendall(b"world")
        req = held[0]
        deadline = time.monotonic() + 5
        # the rest of the body has come: buffered (paused), or handed to the reader
        while time.monotonic() < deadline and st.call(lambda: req.readable_length) != 5 and \
                [e for e in st.events if e == ("data 5",)] != [("data 5",)] * 2:
            time.sleep(0.005)
        buffered = st.call(lambda: req.readable_length)
    ours = [event[0] for event in st.events] + [f"buffered {buffered}"]
    assert ours == ["request", "data 5", "ended", "res.finish", "buffered 5"], ours
    theirs = [event[0] for event in node_events(NODE_SCRIPT)]
    assert theirs == ours, (theirs, ours)
