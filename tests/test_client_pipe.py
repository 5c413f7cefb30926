"""``res.pipe(destination)`` on the client's response, as Node's reverse-proxy idiom uses
it: ``upstream_res.pipe(res)`` with ``req.pipe(upstream_req)``, backpressure both ways,
on one loop with real sockets."""

import asyncio

import prefork

BODY = bytes(range(256)) * 8192  # 2 MiB: many reads, and writes that say wait


def test_a_proxy_pipes_the_request_up_and_the_response_back():
    async def main():
        def echo(req, res):
            res.set_header("X-Upstream", "yes")
            req.pipe(res)
        upstream = prefork.create_server(echo)
        upstream.listen(0, "127.0.0.1")
        up_port = upstream.address()["port"]

        def proxy_request(req, res):
            def answered(ures):
                res.write_head(ures.status_code, {"X-Upstream": ures.headers.get("x-upstream", "")})
                ures.pipe(res)
            preq = prefork.request({"host": "127.0.0.1", "port": up_port, "method": req.method, "path": req.url,
                                    "agent": False}, answered)
            preq.on("error", lambda err: res.destroy())
            req.pipe(preq)
        proxy = prefork.create_server(proxy_request)
        proxy.listen(0, "127.0.0.1")
        try:
            req = prefork.request({"host": "127.0.0.1", "port": proxy.address()["port"], "method": "POST",
                                   "path": "/echo", "agent": False})
            req.end(BODY)
            res = await asyncio.wait_for(req, 10)
            body = await asyncio.wait_for(res.read(), 10)
            return res.status_code, res.headers.get("x-upstream"), body
        finally:
            proxy.close()
            upstream.close()
    status, header, body = asyncio.run(main())
    assert (status, header) == (200, "yes")
    assert body == BODY
