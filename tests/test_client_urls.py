"""The client reads a URL as Node's ``http.request(url)`` does (the WHATWG URL rules),
not as ``urllib.parse`` does: the host it connects to, the path it sends, its Host and
Authorization fields are Node's for the same string, and a URL Node refuses is refused.
A host read differently from a URL checker's (a backslash before an ``@``) would send a
request where the application did not mean it to go."""

import asyncio
import json
import random
import socket
import subprocess

import pytest

import prefork
from harness import NODE
from prefork.client import whatwg

NODE_SCRIPT = r"""
const http = require('http');
const net = require('net');
const urls = JSON.parse(require('fs').readFileSync(0, 'utf8'));
const out = [];
for (const u of urls) {
  try {
    // (a socket that never connects: no name is looked up, nothing leaves the machine)
    const r = http.request(u, {createConnection: () => new net.Socket(), defaultPort: 80}); r.on('error', () => {});
    out.push([r.host, r.path, r.getHeader('host'), r.getHeader('authorization') ?? null]); r.destroy();
  } catch (e) { out.push(['ERR', e.code || e.name]); }
}
console.log(JSON.stringify(out));
"""

SCHEMES = ["http:", "HTTP:", "hTtP:", "https:", "ftp:", "ws:", "foo:", "", "1http:"]
SLASHES = ["//", "/", "", "\\\\", "/\\", "///", "\\/", " //"]
USERS = ["", "u@", "u:p@", "u:p:q@", "@", "u%40x:p@", "a b@", "ü:ß@", "%zz@", "%ff@", "u:p@x@", ":@",
         "a\\b@", "a/b@", "a?b@", "a#b@"]
HOSTS = ["a.com", "A.COM", "a.com.", "127.0.0.1", "0x7f.1", "0177.0.0.1", "1.2.3", "4294967295", "4294967296",
         "1.2.3.256", "[::1]", "[::FFFF:1.2.3.4]", "[1:0:0:0:0:0:0:1]", "[::1", "::1", "[::1]x", "a b", "a%20b",
         "a%2e.com", "%41.com", "a%00b", "bücher.de", "a<b", "a|b", "a^b", "a'b", "", "a..b", "09", "0x",
         "1.2.3.4.5", "a.1", "1.a", "a\tb", "a\nb", "[fe80::1%25eth0]", "a%", "a%2", "例え.jp", "ＡＢＣ.com",
         "a.com\\@b.com"]
PORTS = ["", ":", ":80", ":8080", ":0080", ":65535", ":65536", ":+1", ":0x50", ":8 0", ":a", ":80:90", ":443"]
SEGMENTS = ["a", "..", ".", "%2e", "%2E%2e", ".%2e", "b c", "\"", "<>", "é", "{x}", "`", "%", "%zz", "a\\b", "",
            "x;y", "~", "|", "^", "\x7f", "\x01", "%41", "@b.com"]
QUERIES = ["", "?", "?a=b", "?a b", "?'\"<>", "?é", "?a\\b", "?x#y", "?%zz", "?`{}|^", "?\x7f"]
FRAGMENTS = ["", "#", "#f", "#a b", "#?x", "#/../x"]
SPECIAL = ("http:", "https:", "ws:", "wss:", "ftp:")


def generated_urls(seed, count):
    rng = random.Random(seed)
    urls = set()
    while len(urls) < count:
        path = "".join(rng.choice("/\\") + rng.choice(SEGMENTS) for _ in range(rng.randrange(4)))
        url = (rng.choice(SCHEMES) + rng.choice(SLASHES) + rng.choice(USERS) + rng.choice(HOSTS)
               + rng.choice(PORTS) + path + rng.choice(QUERIES) + rng.choice(FRAGMENTS))
        urls.add(" \t" + url + "\n " if rng.random() < 0.1 else url)
    return sorted(urls)


def prefork_reads(urls):
    async def main():
        out = []
        for url in urls:
            try:
                req = prefork.request(url, agent=False)
            except ValueError as exc:
                out.append(["ERR", exc.code])
                continue
            req.on("error", lambda err: None)
            out.append([req.host, req.path, req.get_header("host"), req.get_header("authorization")])
            req.destroy()
        return out
    return asyncio.run(main())


def node_reads(urls):
    node = subprocess.run([NODE, "-e", NODE_SCRIPT], input=json.dumps(urls), capture_output=True, text=True,
                          timeout=60)
    out = json.loads(node.stdout)
    # (decodeURIComponent's URIError, for a URL's user or password: ERR_INVALID_URL here)
    return [["ERR", "ERR_INVALID_URL"] if got == ["ERR", "URIError"] else got for got in out]


@pytest.mark.skipif(NODE is None, reason="node is not installed")
@pytest.mark.parametrize("seed", [1, 2])
def test_generated_urls_are_read_as_node_reads_them(seed):
    urls = generated_urls(seed, 600)
    ours, theirs = prefork_reads(urls), node_reads(urls)
    differences = []
    for url, mine, node in zip(urls, ours, theirs):
        scheme = url.strip().split(":", 1)[0].lower() + ":"
        if mine != node and not (scheme not in SPECIAL and mine[0] == node[0] == "ERR"):
            # (a scheme this client does not read is refused whichever way Node refuses it)
            differences.append((url, node, mine))
    assert not differences, differences[:10]
    assert sum(1 for got in ours if got[0] != "ERR") > 50  # the table reaches the accepted URLs too


@pytest.mark.skipif(NODE is None, reason="node is not installed")
def test_urls_of_each_rule_are_read_as_node_reads_them():
    urls = ["http://a.com\\@b.com/", "http://a.com:80\\@b.com/p", "http:\\\\b.com\\p", "http:/b.com/p",
            "http:b.com/p", "http://a.com/p\\q", "http://user:pa@ss@b.com/", "http://[::1]:81/x",
            "http://0x7f.1/", "http://a.com/a/../b", "http://a.com/%2e%2e/b", "http://a.com/a/./b/.",
            "http://a.com/?q=\"'<>", "http://a.com/é?é", "http://a b.com/", "http://a.com%00.b.com/",
            "http://a.com/p\r\nX-Injected: 1", " http://a.com/ ", "http://%zz@a.com/", "http://a.com@/",
            "http://[::1]/", "http://[::1]:80/", "http://a.com:65536/"]
    assert prefork_reads(urls) == node_reads(urls)


def test_a_backslash_before_an_at_sign_does_not_move_the_request_to_another_host():
    first, second = socket.socket(), socket.socket()
    try:
        for listener in (first, second):
            listener.bind(("127.0.0.1", 0))
            listener.listen(4)
            listener.settimeout(5)
        a, b = first.getsockname()[1], second.getsockname()[1]

        async def main():
            req = prefork.request(f"http://127.0.0.1:{a}\\@127.0.0.1:{b}/x", agent=False)
            req.on("error", lambda err: None)
            req.end()
            loop = asyncio.get_running_loop()
            conn, _ = await loop.run_in_executor(None, first.accept)
            with conn:
                conn.settimeout(5)
                head = b""
                while b"\r\n\r\n" not in head:
                    head += await loop.run_in_executor(None, conn.recv, 4096)
            req.destroy()
            return head
        head = asyncio.run(main())
        second.setblocking(False)
        with pytest.raises(BlockingIOError):
            second.accept()  # nothing went to the host after the @
    finally:
        first.close()
        second.close()
    assert head.startswith(f"GET /@127.0.0.1:{b}/x HTTP/1.1\r\n".encode())
    assert f"\r\nHost: 127.0.0.1:{a}\r\n".encode() in head
    assert b"Authorization" not in head


@pytest.mark.parametrize("url, host, port, path", [
    ("http://A.COM:0080/a/b/../c/./d?x y#frag", "a.com", None, "/a/c/d?x%20y"),
    ("http:\\\\a.com\\p\\..\\q", "a.com", None, "/q"),
    ("http://0x7f.0.0.1:8080", "127.0.0.1", 8080, "/"),
    ("http://[0:0::1]/%2E./x", "::1", None, "/x"),
    ("http://[::ffff:1.2.3.4]/", "::ffff:102:304", None, "/"),  # (Python 3.13's own text differs)
    ("http://[1:0:1:0:0:1:0:0]/", "1:0:1::1:0:0", None, "/"),
    ("http://bücher.de/é", "xn--bcher-kva.de", None, "/%C3%A9"),
    ("http://a.com/{`}?{`}'", "a.com", None, "/%7B%60%7D?{`}%27"),
])
def test_the_parts_of_a_url(url, host, port, path):
    parts = whatwg.parse(url)
    assert (parts.hostname, parts.port, parts.path) == (host, port, path)


@pytest.mark.parametrize("url, host", [
    ("http://a../", "a.."), ("http://1.2.3.4../", "1.2.3.4.."), ("http://0x0x7f000001/", "0x0x7f000001"),
    ("http://00o7/", "00o7"), ("http://0X0x10/", "0x0x10"), ("http://ＡＢＣ.com/", "abc.com"),
    ("http://Bücher.DE/", "xn--bcher-kva.de"), ("http://مثال.إختبار/", "xn--mgbh0fb.xn--kgbechtv"),
])
def test_names_that_only_look_like_numbers_stay_names(url, host):
    """The standard's IPv4 numbers only (no Python ``0x``/``0o`` prefix after its own, no
    empty part): these are names, as Node reads them, never a loopback address."""
    assert whatwg.parse(url).hostname == host


@pytest.mark.parametrize("url", ["http://faß.de/", "http://a\u2488b.com/", "http://x\ufe52y.com/",
                                 "http://ex\u200dample.com/", "http://\u0301a.com/", "http://a\U0001f100/",
                                 "http://\u00e1\u0660a/"])
def test_international_names_idna_2003_would_map_elsewhere_are_refused(url):
    """Where IDNA 2003 (Python's) and the standard's UTS 46 part ways (ß, characters that
    make a label, joiners, marks, characters unknown to Unicode 3.2, the Bidi rule), the
    URL is refused: never sent to a host other than Node's."""
    with pytest.raises(ValueError):
        whatwg.parse(url)


@pytest.mark.skipif(NODE is None, reason="node is not installed")
def test_generated_international_names_never_go_where_node_would_not():
    rng = random.Random(11)
    letters = list("abcxyz019-") + [chr(c) for c in list(range(0xc0, 0x180)) + [
        0xdf, 0x3c2, 0x200c, 0x200d, 0x2488, 0xfe52, 0x3002, 0xff0e, 0xff21, 0x5d0, 0x627, 0x301, 0x660, 0x1e9e,
        0x130, 0x131, 0x17f, 0x212a, 0xad, 0x34f, 0xfe00, 0x1d400, 0x2122, 0x1f100, 0x2e3a, 0x4f8b, 0x3048]]
    urls = sorted({"http://" + "".join(rng.choice(letters) for _ in range(rng.randrange(1, 8))) + "/"
                   for _ in range(1500)})
    ours, theirs = prefork_reads(urls), node_reads(urls)
    elsewhere = [(url, node, mine) for url, mine, node in zip(urls, ours, theirs)
                 if mine[0] != "ERR" and mine != node]  # sent where Node sends elsewhere, or nowhere
    assert not elsewhere, elsewhere[:10]
    assert sum(1 for got in ours if got[0] != "ERR") > 500  # most are still served


def test_a_host_option_beside_a_url_does_not_move_it_but_hostname_does():
    async def main():
        out = []
        for extra in ({"host": "b.example"}, {"hostname": "c.example"}):
            req = prefork.request("http://a.example:8080/x", agent=False, **extra)
            req.on("error", lambda err: None)
            out.append((req.host, req.get_header("host")))
            req.destroy()
        return out
    assert asyncio.run(main()) == [("a.example", "a.example:8080"), ("c.example", "c.example:8080")]


@pytest.mark.parametrize("host", [123, b"::1", ["a"]])
def test_a_host_option_that_is_not_a_str_is_refused(host):
    with pytest.raises(TypeError) as refused:
        prefork.request({"host": host, "port": 80})
    assert refused.value.code == "ERR_INVALID_ARG_TYPE"


@pytest.mark.parametrize("url", ["http://a b/", "http://a%20b/", "http://a<b/", "http://[::1/", "http://1.2.3.256/",
                                 "http://09/", "http://a.com:+1/", "http://a.com:8 0/", "http://@/", "http://", "a.com/x",
                                 "http://[fe80::1%25eth0]/"])
def test_urls_the_standard_refuses(url):
    with pytest.raises(ValueError):
        whatwg.parse(url)
    with pytest.raises(ValueError) as refused:
        prefork.request(url)
    assert refused.value.code == "ERR_INVALID_URL"


def test_an_ipv6_host_option_is_bracketed_in_the_host_field():
    async def main():
        req = prefork.request({"host": "::1", "port": 8080}, agent=False)
        req.on("error", lambda err: None)
        fields = req.get_header("host"), prefork.request({"host": "::1"}, agent=False)
        fields[1].on("error", lambda err: None)
        out = fields[0], fields[1].get_header("host")
        req.destroy()
        fields[1].destroy()
        return out
    assert asyncio.run(main()) == ("[::1]:8080", "[::1]")


def test_options_beside_a_url_are_node_s_three_argument_form():
    """``request(url, options, callback)``: the options win over the URL's parts (method,
    headers, path), the callback gets the response; ``request(url, callback)`` still
    takes the callback second."""
    seen = []

    async def main():
        def on_request(req, res):
            seen.append((req.method, req.url, req.headers.get("x-token")))
            res.end("ok")
        server = prefork.create_server(on_request)
        server.listen(0, "127.0.0.1")
        port = server.address()["port"]
        got = []
        try:
            done = asyncio.get_running_loop().create_future()
            req = prefork.request(f"http://127.0.0.1:{port}/items/7", {"method": "DELETE", "headers": {"X-Token": "t"}},
                                  lambda res: (got.append(res.status_code), res.resume(), done.set_result(None)))
            req.end()
            await asyncio.wait_for(done, 5)
            res = await asyncio.wait_for(prefork.get(f"http://127.0.0.1:{port}/a", {"path": "/b"}), 5)
            await res.read()
            done = asyncio.get_running_loop().create_future()
            prefork.get(f"http://127.0.0.1:{port}/c", lambda res: (res.resume(), done.set_result(res.status_code)))
            got.append(await asyncio.wait_for(done, 5))
        finally:
            server.close()
        return got
    assert asyncio.run(main()) == [200, 200]
    assert seen == [("DELETE", "/items/7", "t"), ("GET", "/b", None), ("GET", "/c", None)]


def test_options_beside_a_url_that_are_no_mapping_are_refused():
    with pytest.raises(TypeError) as refused:
        prefork.request("http://127.0.0.1:9/", "GET")
    assert refused.value.code == "ERR_INVALID_ARG_TYPE"
