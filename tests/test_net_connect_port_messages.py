"""The message of the error ``Socket.connect`` raises for a bad port, and of
``set_timeout``'s, is Node v20's, word for word: Node names what it received by its
type and value as JavaScript writes them (``Received type number (70000).``,
``type string ('http')``, ``type boolean (true)``, ``null``, ``NaN``, ``1e+21``, a long
string cut). prefork wrote Python's repr (``Received 70000.0.``, ``'http'``, ``True``,
``None``, ``nan``). And a port string JavaScript reads as a number is one (``0x50``,
``1e3``), one it does not is refused (``1_0``, which Python's ``float()`` takes; other
scripts' digits, ``８０``; blanks Python strips and JavaScript does not, ``\x1c80``),
and JavaScript's blanks are stripped (``\ufeff80``, which Python's ``strip()`` keeps).

The same values go to Node's ``net.connect`` and ``socket.setTimeout``."""

import asyncio
import json
import math
import subprocess

from harness import need_node
from prefork.net import Socket

PORTS = {  # name: (the Python value, the JavaScript one)
    "negative": (-1, "-1"), "big": (70000, "70000"), "just-over": (65536, "65536"),
    "fraction": (1.5, "1.5"), "whole-float": (70000.0, "70000"), "nan": (math.nan, "NaN"),
    "infinite": (math.inf, "Infinity"), "minus-infinite": (-math.inf, "-Infinity"), "huge": (1e21, "1e21"),
    "tiny": (1e-7, "1e-7"), "digits": ("70000", "'70000'"), "negative-digits": ("-1", "'-1'"),
    "fraction-digits": ("1.5", "'1.5'"), "word": ("http", "'http'"), "blank": (" ", "' '"), "empty": ("", "''"),
    "long": ("abcdefghijklmnopqrstuvwxyz0123456789", "'abcdefghijklmnopqrstuvwxyz0123456789'"),
    "quote": ("it's\n", "\"it's\\n\""), "padded": (" 99999 ", "' 99999 '"), "underscore": ("1_0", "'1_0'"),
    "emoji": ("\U0001F600" * 20, "'\\u{1F600}'.repeat(20)"), "hex": ("0x50", "'0x50'"), "exponent": ("1e3", "'1e3'"),
    "true": (True, "true"), "false": (False, "false"), "none": (None, "null"), "list": ([80], "[80]"),
    "dict": ({"a": 1}, "{a: 1}"),
    # (JavaScript's Number() reads ASCII digits only, and strips its own blanks, not Python's)
    "full-width": ("\uff18\uff10", "'\\uff18\\uff10'"), "arabic-indic": ("\u0668\u0660", "'\\u0668\\u0660'"),
    "hex-arabic-indic": ("0x\u0665\u0660", "'0x\\u0665\\u0660'"), "file-separator": ("\x1c80", "'\\x1c80'"),
    "unit-separator": ("\x1f80", "'\\x1f80'"), "next-line": ("\x85 80", "'\\x85 80'"),
    "byte-order-mark": ("\ufeff80", "'\\ufeff80'"), "js-blanks": ("\u3000\u2028 80\u205f\xa0", "'\\u3000\\u2028 80\\u205f\\xa0'"),
}
TIMEOUTS = {"negative": (-1, "-1"), "nan": (math.nan, "NaN"), "infinite": (math.inf, "Infinity"),
            "big-negative": (-2 ** 40, "-(2 ** 40)"), "huge-negative": (-1e22, "-1e22"), "word": ("x", "'x'"),
            "true": (True, "true"), "none": (None, "null")}


def node_messages():
    ports = ", ".join(f"{json.dumps(k)}: {js}" for k, (_, js) in PORTS.items())
    timeouts = ", ".join(f"{json.dumps(k)}: {js}" for k, (_, js) in TIMEOUTS.items())
    script = (f"const net = require('net'); const out = {{port: {{}}, timeout: {{}}}}; const p = {{{ports}}};"
              f"const t = {{{timeouts}}}; const idle = new net.Socket();"
              "for (const k in p) { try { const s = net.connect({port: p[k], host: '127.0.0.1'});"
              "  s.on('error', () => {}); s.destroy(); out.port[k] = 'ok'; } catch (e) { out.port[k] = [e.code, e.message]; } }"
              "for (const k in t) { try { idle.setTimeout(t[k]); out.timeout[k] = 'ok'; }"
              "  catch (e) { out.timeout[k] = [e.code, e.message]; } }"
              "console.log(JSON.stringify(out));")
    done = subprocess.run([need_node(), "-e", script], capture_output=True, text=True, timeout=20, check=True)
    return json.loads(done.stdout)


def prefork_messages():
    async def main():
        loop = asyncio.get_running_loop()
        out = {"port": {}, "timeout": {}}
        for key, (port, _) in PORTS.items():
            try:
                Socket.connect(loop, "127.0.0.1", port).destroy()
                out["port"][key] = "ok"
            except (TypeError, ValueError) as exc:
                out["port"][key] = [exc.code, str(exc)]
        idle = Socket.connect(loop, "127.0.0.1", 1)
        idle.on("error", lambda err: None)
        for key, (seconds, _) in TIMEOUTS.items():
            try:
                idle.set_timeout(seconds)
                out["timeout"][key] = "ok"
            except (TypeError, ValueError) as exc:
                out["timeout"][key] = [exc.code, str(exc)]
        idle.destroy()
        return out
    return asyncio.run(main())


def test_bad_ports_and_timeouts_get_nodes_messages():
    expected = node_messages()
    bad = "Port should be >= 0 and < 65536. Received "
    assert expected["port"]["big"] == ["ERR_SOCKET_BAD_PORT", bad + "type number (70000)."]
    assert expected["port"]["word"] == ["ERR_SOCKET_BAD_PORT", bad + "type string ('http')."]
    assert expected["port"]["true"][1].endswith("Received type boolean (true)")
    assert expected["port"]["hex"] == expected["port"]["exponent"] == "ok"
    # (a cut through a surrogate pair: Node keeps its lone half, which Python could not print)
    code, message = expected["port"]["emoji"]
    assert "\ud83d..." in message
    expected["port"]["emoji"] = [code, message.replace("\ud83d...", "...")]
    ours = prefork_messages()
    assert ours["port"] == expected["port"]
    assert ours["timeout"] == expected["timeout"]
