"""A bool among the items of a list field value goes out as JavaScript writes it
(``true``/``false``), as a bool given alone does, as Node's ``String(item)``; prefork
wrote Python's ``True`` for one in a list."""

from head_fields import node_head_fields, prefork_head_fields

NODE = r"""
  if (req.url === '/set') res.setHeader('X-N', [1, true, false, 'a']);
  else res.writeHead(200, [['X-M', [false, 'b']], ['x-m', true]]);
  res.end('a');
"""
PATHS = ("/set", "/head")


def on_request(req, res):
    if req.url == "/set":
        res.set_header("X-N", [1, True, False, "a"])
    else:
        res.write_head(200, [["X-M", (False, "b")], ["x-m", True]])
    res.end("a")


def test_a_bool_in_a_list_value_is_written_as_node_writes_it():
    expected = node_head_fields(NODE, PATHS, "^x-", ignore_case=True)
    assert expected == [["/set", ["X-N: 1", "X-N: true", "X-N: false", "X-N: a"]],
                        ["/head", ["X-M: false", "X-M: b", "x-m: true"]]]
    assert prefork_head_fields(on_request, PATHS, "^x-", ignore_case=True) == expected
