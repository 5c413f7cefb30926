"""``res.write_head(status, headers)`` alone (no field set before): Node writes the lines
in the order given, one ``processHeader`` per key or pair, so a name repeated among
other names keeps its place, two keys of one mapping spelled differently (``X-A`` and
``x-a``) both reach the wire, and ``Cookie`` values are joined only within one pair's
list. prefork grouped a repeated name's lines at its first place, kept only the last of
two mapping keys differing in case, and joined every ``Cookie`` pair into one line."""

from head_fields import node_head_fields, prefork_head_fields

NODE = r"""
  if (req.url === '/pairs') res.writeHead(200, [['X-A', '1'], ['B', '0'], ['x-a', '2'], ['Cookie', 'k=1'],
                                               ['cookie', 'k=2'], ['Content-Length', '1'], ['X-A', '3']]);
  else if (req.url === '/flat') res.writeHead(200, ['X-A', '1', 'B', '0', 'x-a', '2', 'Set-Cookie', ['a', 'b'],
                                                    'set-cookie', ['c'], 'Cookie', ['x', 'y'], 'cookie', 'z']);
  else res.writeHead(200, {'X-A': ['1', '2'], 'B': '0', 'x-a': '3', 'Set-Cookie': ['s=1'], 'set-cookie': 's=2'});
  res.end('a');
"""
PATHS = ("/pairs", "/flat", "/mapping")
FIELDS = "^(x-|b:|cookie|set-cookie|content-length)"


def on_request(req, res):
    if req.url == "/pairs":
        res.write_head(200, [["X-A", "1"], ["B", "0"], ["x-a", "2"], ["Cookie", "k=1"],
                             ["cookie", "k=2"], ["Content-Length", "1"], ["X-A", "3"]])
    elif req.url == "/flat":
        res.write_head(200, iter(["X-A", "1", "B", "0", "x-a", "2", "Set-Cookie", ["a", "b"],
                                  "set-cookie", ["c"], "Cookie", ["x", "y"], "cookie", "z"]))
    else:
        res.write_head(200, {"X-A": ["1", "2"], "B": "0", "x-a": "3", "Set-Cookie": ["s=1"], "set-cookie": "s=2"})
    res.end("a")


def test_write_head_alone_writes_every_pair_in_the_order_given_as_node():
    expected = node_head_fields(NODE, PATHS, FIELDS, ignore_case=True)
    assert expected == [
        ["/pairs", ["X-A: 1", "B: 0", "x-a: 2", "Cookie: k=1", "cookie: k=2", "Content-Length: 1", "X-A: 3"]],
        ["/flat", ["X-A: 1", "B: 0", "x-a: 2", "Set-Cookie: a", "Set-Cookie: b", "set-cookie: c",
                   "Cookie: x; y", "cookie: z"]],
        ["/mapping", ["X-A: 1", "X-A: 2", "B: 0", "x-a: 3", "Set-Cookie: s=1", "set-cookie: s=2"]],
    ]
    assert prefork_head_fields(on_request, PATHS, FIELDS, ignore_case=True) == expected
