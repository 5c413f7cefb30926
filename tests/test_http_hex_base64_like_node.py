"""``hex`` and ``base64`` text chunks (``res.write``/``end``, ``socket.write``, a client
request's ``write``) are read as Node's ``Buffer.from(text, encoding)`` reads them:
leniently. Base64 skips whitespace and characters outside its alphabet and stops at
the first ``=``; hex stops at the first pair that is not hex. prefork raised
(binascii.Error, ValueError): ``res.end('aGVs\\nbG8=', 'base64')`` was a 500 where Node
answers ``hello``."""

import json
import random
import socket
import subprocess

import pytest

from prefork.http.serialize import encoded

FIXED = [
    "", "aGVsbG8=", "aGVs\nbG8=", "aGV sbG8=", "a?Gk", "aGk", "aGk=", "aGk==", "aG=k", "QQ", "Q", "QR", "QUFBQ",
    "QUFB-_-_", "+/+/", "QUFB====QUFB", " \t\r\n", "QQ\u013dQQ", "\u0151\u0151\u0151\u0151", "\ud800\udc41A",
    "\U0001f600QUFB", "é=QQ", "zz12", "12zz34", "123", "12 34", "1", "aBcD", "\u0131\u0132", "0x12", "ff\x00ff",
]


def cases():
    rnd = random.Random(20)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/-_="
    odd = " \n\t?.=\x00\x80\xff\u0131\u013d\u0151\u2028\ud800é"
    table = [[text, encoding] for text in FIXED for encoding in ("base64", "base64url", "hex")]
    for _ in range(400):
        encoding = rnd.choice(["base64", "base64url", "hex"])
        pool = ("0123456789abcdefABCDEFxg " if encoding == "hex" else alphabet) * 3 + odd
        table.append(["".join(rnd.choice(pool) for _ in range(rnd.choice([1, 2, 3, 5, 8, 9, 13, 40]))), encoding])
    table.append(["QUFB\n" * 2000 + "QQ", "base64"])  # (past Buffer's pool: decoded in one allocation)
    return table


NODE = """
const table = JSON.parse(require('fs').readFileSync(0, 'utf8'));
console.log(JSON.stringify(table.map(([text, encoding]) => Buffer.from(text, encoding).toString('hex'))));
"""


def test_hex_and_base64_text_decodes_as_node_buffer_from_decodes_it():
    table = cases()
    run = subprocess.run(["node", "-e", NODE], input=json.dumps(table).encode(), capture_output=True, timeout=30,
                         check=True)
    expected = json.loads(run.stdout)
    got = [encoded(text, encoding).hex() for text, encoding in table]
    diffs = [(text, encoding, want, have) for (text, encoding), want, have in zip(table, expected, got) if want != have]
    assert diffs == []
    assert expected[:2] == ["", ""] and expected[3] == "68656c6c6f"  # ("" and "aGVsbG8=" in base64)


def request(port):
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer


@pytest.mark.parametrize("chunks, body", [
    ([("aGVs\nbG8=", "base64")], b"hello"),
    ([("aGV sbG8=", "base64"), ("12zz34", "hex")], b"hello\x12"),
    ([("a?Gk", "base64url"), ("zz12", "hex")], b"hi"),
])
def test_a_response_of_lenient_hex_and_base64_text_sends_what_node_decodes(serve, chunks, body):
    def setup(server, st):
        def on_request(req, res):
            for text, encoding in chunks[:-1]:
                res.write(text, encoding)
            res.end(*chunks[-1])
        server.on("request", on_request)
    st = serve(setup)
    head, _, sent = request(st.port).partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK\r\n")
    if len(chunks) == 1:
        assert b"\r\nContent-Length: %d\r\n" % len(body) in head + b"\r\n"
        assert sent == body
    else:
        assert b"Transfer-Encoding: chunked" in head
        assert b"".join(part for part in sent.split(b"\r\n")[1::2]) == body
