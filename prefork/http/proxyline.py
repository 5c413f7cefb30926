"""A PROXY protocol header where a request was expected: a balancer that sends one
(HAProxy's ``send-proxy``) to a listener without ``proxy_protocol``. The request is
refused as any other (a 400); this names what came, for the access and error logs.

Rules:
- Read only on the refused path, from the bytes the connection began with (the caller
  checks that they are the connection's first).
- Version 1: ``PROXY`` and a space at the start; its line (up to LF, a CR before it
  dropped, within the 107 bytes a header may take) is the request line the access log
  writes, as nginx logs it: ``("PROXY", rest of the line, "")`` (no HTTP version); a
  line not whole there is None (``-``). Version 2: its 12-byte signature at the start;
  no line (its bytes are binary).
- No I/O, no state.
"""

V1_PREFIX = b"PROXY "
V1_MAX = 107  # bytes of a version 1 header, its CRLF included (the specification's bound)
V2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"


def proxy_header(data):
    """(version, request line or None) of a PROXY header at the start of ``data``, or
    None when ``data`` does not start with one."""
    if data.startswith(V1_PREFIX):
        end = data.find(b"\n", 0, V1_MAX)
        if end < 0:
            return 1, None
        line = data[:end - 1] if data[end - 1:end] == b"\r" else data[:end]
        return 1, ("PROXY", line[len(V1_PREFIX):].decode("latin-1"), "")
    if data.startswith(V2_SIGNATURE):
        return 2, None
    return None
