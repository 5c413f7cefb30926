"""``async for`` over a body whose stream was destroyed with an error before the loop
began raises that error (its type, code and message), as Node's ``for await`` throws
the stream's error, on the server's request and on the client's response; Node's
programs do the same things for comparison."""

import asyncio
import socket

import prefork
from harness import node_events

NODE_BOTH = r"""
const srv = http.createServer(async (req, res) => {
  const e = new Error('mine'); e.code = 'EMINE';
  req.on('error', () => {});
  req.destroy(e);
  try { for await (const c of req) {} log('server', 'no error'); }
  catch (err) { log('server', err === e, err.code, err.message); }
  const up = http.createServer((q, r) => { r.writeHead(200, {'content-length': '10'}); r.write('ab'); });
  up.listen(0, '127.0.0.1', () => {
    http.get({port: up.address().port, host: '127.0.0.1'}, async (res) => {
      const f = new Error('theirs'); f.code = 'ETHEIRS';
      res.on('error', () => {});
      res.destroy(f);
      try { for await (const c of res) {} log('client', 'no error'); }
      catch (err) { log('client', err === f, err.code, err.message); }
      up.closeAllConnections(); up.close(); srv.close(); done();
    }).on('error', () => {});
  });
});
srv.listen(0, '127.0.0.1', () => {
  const s = net.connect(srv.address().port, '127.0.0.1', () => s.write('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nab'));
  s.on('error', () => {});
});
"""


class Mine(Exception):
    code = "EMINE"


def test_a_request_destroyed_with_an_error_before_the_loop_raises_it(serve):
    def setup(server, st):
        async def on_request(req, res):
            req.on("error", lambda err: None)
            req.destroy(Mine("mine"))
            try:
                async for _ in req:
                    pass
                st.record("no error")
            except Exception as err:  # (checked below)
                st.record(type(err).__name__, getattr(err, "code", None), str(err))
        server.on("request", on_request)
    st = serve(setup)
    sock = socket.create_connection(("127.0.0.1", st.port), timeout=5)
    sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nab")
    event = st.wait_for(lambda e: e[0] in ("no error", "Mine", "Aborted"), 5)
    sock.close()
    theirs = node_events(NODE_BOTH)
    assert ["server", True, "EMINE", "mine"] in theirs
    assert event == ("Mine", "EMINE", "mine")


def test_a_response_destroyed_with_an_error_before_the_loop_raises_it(serve):
    def setup(server, st):
        server.on("request", lambda req, res: (res.write_head(200, {"content-length": "10"}), res.write("ab")))
    st = serve(setup)

    async def main():
        res = await prefork.get({"host": "127.0.0.1", "port": st.port, "agent": False})
        res.on("error", lambda err: None)
        err = Mine("theirs")
        err.code = "ETHEIRS"
        res.destroy(err)
        try:
            async for _ in res:
                pass
            return "no error"
        except Exception as caught:  # (checked below)
            return type(caught).__name__, caught.code, str(caught)
    ours = asyncio.run(asyncio.wait_for(main(), 5))
    theirs = node_events(NODE_BOTH)
    assert ["client", True, "ETHEIRS", "theirs"] in theirs
    assert ours == ("Mine", "ETHEIRS", "theirs")
