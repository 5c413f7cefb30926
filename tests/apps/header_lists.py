"""Events app: the request's header lists by length, and the last raw line of each."""


def setup(server):
    def on_request(req, res):
        raw, whole = req.raw_headers, req.all_raw_headers
        res.end(f"raw={len(raw)} all={len(whole)} map={len(req.headers.get('a', '').split(', '))} "
                f"distinct={len(req.headers_distinct.get('a', []))} last={raw[-2]}:{raw[-1]} "
                f"all_last={whole[-2]}:{whole[-1]}")
    server.on("request", on_request)
