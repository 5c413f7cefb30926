"""A status code given as a JavaScript number or numeric string is coerced as Node's
``statusCode |= 0`` coerces it (``"201.5"`` is 201, ``"4e2"`` 400, ``"0x194"`` 404,
``" 404 "`` 404, 2**32 + 200 is 200), and a refused one is named as given in the
``ERR_HTTP_INVALID_STATUS_CODE`` message (``Invalid status code: 2xx``); prefork refused
the fractions and exponents Node takes, and raised OverflowError for an infinite float."""

from head_fields import node_head_fields, prefork_head_fields

STATUSES = {"/frac": "201.5", "/exp": "4e2", "/hex": "0x194", "/spaced": " 404 ", "/wrap": 2 ** 32 + 200,
            "/float": 404.9, "/plus": "+202", "/bad": "2xx", "/under": "4_04", "/empty": "",
            "/inf": "Infinity", "/bighex": "0x1000000000000012c", "/bigbin": "0b1" + "0" * 64 + "11001000"}
NODE = r"""
  const statuses = {'/frac': '201.5', '/exp': '4e2', '/hex': '0x194', '/spaced': ' 404 ', '/wrap': 2 ** 32 + 200,
    '/float': 404.9, '/plus': '+202', '/bad': '2xx', '/under': '4_04', '/empty': '', '/inf': 'Infinity',
    '/infinite': Infinity, '/bighex': '0x1000000000000012c', '/bigbin': '0b1' + '0'.repeat(64) + '11001000'};
  try {
    if (req.url === '/implicit') res.statusCode = '2.03e2';
    else res.writeHead(statuses[req.url]);
    res.end('a');
  } catch (e) { res.writeHead(599, e.code + ' ' + e.message); res.end(); }
"""
PATHS = tuple(STATUSES) + ("/infinite", "/implicit")


def on_request(req, res):
    try:
        if req.url == "/implicit":
            res.status_code = "2.03e2"
        else:
            res.write_head(STATUSES.get(req.url, float("inf")))
        res.end("a")
    except Exception as exc:
        res.write_head(599, f"{exc.code} {exc}")
        res.end()


def test_status_codes_are_coerced_as_node_coerces_them():
    expected = node_head_fields(NODE, PATHS, "^HTTP/")
    assert ["/frac", ["HTTP/1.1 201 Created"]] in expected
    assert ["/bad", ["HTTP/1.1 599 ERR_HTTP_INVALID_STATUS_CODE Invalid status code: 2xx"]] in expected
    assert prefork_head_fields(on_request, PATHS, "^HTTP/") == expected
