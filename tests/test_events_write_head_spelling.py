"""``res.write_head(status, pairs)`` alone (no field set before): Node writes each pair as
given, so a name repeated with another spelling (``["X-A", "1", "x-a", "2"]``,
``Set-Cookie`` then ``set-cookie``) keeps that spelling on its own line; prefork wrote
the first spelling for every line of the name."""

import copy
import pickle

from head_fields import node_head_fields, prefork_head_fields

NODE = r"""
  if (req.url === '/flat') res.writeHead(200, ['X-A', '1', 'x-a', '2', 'Set-Cookie', 'a=1', 'set-cookie', 'b=2']);
  else if (req.url === '/pairs') res.writeHead(200, [['X-A', '1'], ['x-a', 2], ['X-A', '3']]);
  else { res.setHeader('X-B', '0'); res.writeHead(200, ['X-A', '1', 'x-a', '2']); }
  res.end('a');
"""
PATHS = ("/flat", "/pairs", "/progressive")
FIELDS = "^(x-|set-cookie)"


def test_write_head_pairs_keep_each_spelling_as_node():
    expected = node_head_fields(NODE, PATHS, FIELDS, ignore_case=True)
    assert expected[0] == ["/flat", ["X-A: 1", "x-a: 2", "Set-Cookie: a=1", "set-cookie: b=2"]]
    copies = []

    def on_request(req, res):
        if req.url == "/flat":
            res.write_head(200, ["X-A", "1", "x-a", "2", "Set-Cookie", "a=1", "set-cookie", "b=2"])
        elif req.url == "/pairs":
            res.write_head(200, [["X-A", "1"], ["x-a", 2], ["X-A", "3"]])
        else:
            res.set_header("X-B", "0")
            res.write_head(200, ["X-A", "1", "x-a", "2"])
        assert res.get_header("x-a") in (["1", "2"], ["1", "2", "3"], "2")
        try:  # the fields an app reads back copy and pickle as plain values
            copies.append((copy.deepcopy(res.get_headers()), pickle.loads(pickle.dumps(res.get_headers()))))
        except Exception as exc:
            copies.append(exc)
        res.end("a")
    assert prefork_head_fields(on_request, PATHS, FIELDS, ignore_case=True) == expected
    assert len(copies) == 3 and all(isinstance(c, tuple) for c in copies), copies
    for deep, pickled in copies:
        assert deep == pickled and deep["x-a"] in (["1", "2"], ["1", "2", "3"], "2"), (deep, pickled)
