"""``set_encoding("utf16le")`` decodes as Node's StringDecoder does: a lone surrogate in
the body stays a lone surrogate (it became U+FFFD), a high surrogate held at the body's
end comes out as itself (U+FFFD) and an odd byte left at the end is dropped (it became
U+FFFD). The same bodies go to Node's server and to prefork's, over loopback: the code
units each decoded must be the same."""

import json
import socket

from prefork.net.text import TextDecoder
from harness import NODE, node_script_port, read_until_close

BODIES = [
    b"a\x00b",                                   # an odd byte at the end
    "\U0001F600".encode("utf-16-le")[:3],        # a high surrogate and one byte of its pair
    "\U0001F600".encode("utf-16-le")[:2],        # a high surrogate alone at the end
    b"=\xd8a\x00",                               # a lone high surrogate inside the body
    b"\x00\xdc\x62\x00",                          # a lone low surrogate inside the body
    "é€\U0001F600".encode("utf-16-le"),           # whole characters
]

NODE_SERVER = r"""
const http = require('http');
const server = http.createServer((req, res) => {
  req.setEncoding('utf16le');
  let text = '';
  req.on('data', (chunk) => { text += chunk; });
  req.on('end', () => res.end(JSON.stringify(Array.from({length: text.length}, (_, i) => text.charCodeAt(i)))));
});
server.listen(0, '127.0.0.1', () => console.log(server.address().port));
process.stdin.on('end', () => process.exit(0)); process.stdin.resume();
"""


def units(text):
    return list(memoryview(text.encode("utf-16-le", "surrogatepass")).cast("H"))


def decoded_by(port, body):
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: %d\r\n\r\n" % len(body))
        for i in range(len(body)):  # a byte a send: the decoder meets each split
            sock.sendall(body[i:i + 1])
        answer = read_until_close(sock)
    return json.loads(answer.split(b"\r\n\r\n", 1)[1])


def setup(server, st):
    def on_request(req, res):
        req.set_encoding("utf16le")
        parts = []
        req.on("data", parts.append)
        req.on("end", lambda: res.end(json.dumps(units("".join(parts)))))
    server.on("request", on_request)


EXPECTED = [[0x61], [0xD83D], [0xD83D], [0xD83D, 0x61], [0xDC00, 0x62],
            [0xE9, 0x20AC, 0xD83D, 0xDE00]]


def test_utf16le_bodies_decode_as_node_decodes_them(serve):
    st = serve(setup)
    ours = [decoded_by(st.port, body) for body in BODIES]
    assert ours == EXPECTED, ours
    if NODE is None:
        return
    with node_script_port(NODE_SERVER) as port:
        theirs = [decoded_by(port, body) for body in BODIES]
    assert theirs == ours, (theirs, ours)


def test_the_decoder_fed_a_byte_at_a_time():
    """The decoder ``socket.set_encoding`` and the client's response use too."""
    for body, expected in zip(BODIES, EXPECTED):
        decoder = TextDecoder("utf16le")
        text = "".join(decoder.decode(body[i:i + 1]) for i in range(len(body))) + decoder.end()
        assert units(text) == expected, (body, units(text))
