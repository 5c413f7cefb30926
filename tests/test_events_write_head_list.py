"""``res.write_head(status, flat_list)`` after ``res.set_header``: Node v20 takes the
array through its "progressive API" path, where each pair is a ``setHeader`` (a later
pair of the same name replaces the earlier one, and replaces a field set before), so
``set_header('X-A', '0')`` + ``write_head(200, ['X-A', '1', 'X-A', '2', 'X-B', '3'])``
sends ``X-A: 2`` and ``X-B: 3``. The one-line-per-pair rule holds only for an array
given to ``write_head`` alone (Node's too); applied after ``set_header`` it would send
a repeated field (``X-A: 1``, ``X-A: 2``) the Node application never sent.
"""

from head_fields import node_head_fields, prefork_head_fields

NODE = r"""
  if (req.url === '/progressive') res.setHeader('X-A', '0');
  res.writeHead(200, ['X-A', '1', 'X-A', '2', 'X-B', '3']);
  res.end('a');
"""
PATHS = ("/progressive", "/alone")


def test_write_head_flat_list_after_set_header_matches_node():
    expected = node_head_fields(NODE, PATHS, "^X-")
    assert expected == [["/progressive", ["X-A: 2", "X-B: 3"]],
                        ["/alone", ["X-A: 1", "X-A: 2", "X-B: 3"]]]

    def on_request(req, res):
        if req.url == "/progressive":
            res.set_header("X-A", "0")
        res.write_head(200, ["X-A", "1", "X-A", "2", "X-B", "3"])
        res.end("a")
    assert prefork_head_fields(on_request, PATHS, "^X-") == expected
