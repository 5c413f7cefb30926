"""One recorder of a client request's events, for the tests that compare prefork's
client with Node's: ``NODE_RECORDER`` gives a Node script (run by harness.node_events)
``recordRequest``, ``recordResponse`` and ``act``; ``record_request``,
``record_response`` and ``act`` do the same on prefork's objects, so both sides log
the same events under the same names."""

NODE_RECORDER = r"""
const recordRequest = (req) => {
  for (const e of ['finish', 'close', 'abort']) req.on(e, () => log('req', e));
  req.on('error', (e) => log('req error', e.code));
};
const recordResponse = (res, data) => {
  for (const e of ['end', 'close', 'aborted']) res.on(e, () => log('res', e));
  res.on('error', (e) => log('res error', e.code));
  if (data === 'text') res.on('data', (d) => log('res data', d.toString()));
  else if (data) res.on('data', () => log('res data'));
};
const act = (steps, req, res, sock) => {
  for (const s of steps) {
    if (s === 'destroy') req.destroy(); else if (s === 'destroy.error') req.destroy(new Error('boom'));
    else if (s === 'abort') req.abort(); else if (s === 'pause') res.pause(); else if (s === 'resume') res.resume();
    else if (s === 'res.destroy') res.destroy(); else if (s === 'res.destroy.error') res.destroy(new Error('boom'));
    else if (s === 'listen') res.on('data', (d) => log('res data', d.toString()));
    else if (s === 'sock.destroy') sock.destroy(); else throw new Error('unknown step ' + s);
  }
};
"""


def record_request(req, log):
    """Log ``req``'s ``finish``, ``close``, ``abort`` and ``error`` (its code)."""
    for name in ("finish", "close", "abort"):
        req.on(name, (lambda name: lambda *a: log("req", name))(name))
    req.on("error", lambda e: log("req error", getattr(e, "code", None)))


def record_response(res, log, data=None):
    """Log ``res``'s ``end``, ``close``, ``aborted`` and ``error``; its ``data`` too with
    ``data`` (``"text"``: with the chunk's text)."""
    for name in ("end", "close", "aborted"):
        res.on(name, (lambda name: lambda *a: log("res", name))(name))
    res.on("error", lambda e: log("res error", getattr(e, "code", None)))
    if data == "text":
        res.on("data", lambda chunk: log("res data", chunk.decode()))
    elif data:
        res.on("data", lambda chunk: log("res data"))


def act(steps, req, res, sock=None, log=None):
    """Call each step on ``req``, ``res`` or ``sock`` in order (NODE_RECORDER's names;
    ``listen`` logs the ``data`` to come with ``log``)."""
    for step in steps:
        if step == "destroy":
            req.destroy()
        elif step == "destroy.error":
            req.destroy(Exception("boom"))
        elif step == "abort":
            req.abort()
        elif step == "pause":
            res.pause()
        elif step == "resume":
            res.resume()
        elif step == "res.destroy":
            res.destroy()
        elif step == "res.destroy.error":
            res.destroy(Exception("boom"))
        elif step == "listen":
            res.on("data", lambda chunk: log("res data", chunk.decode()))
        elif step == "sock.destroy":
            sock.destroy()
        else:
            raise ValueError(f"unknown step {step}")


def event_log():
    """A list of events and a ``log(*parts)`` that appends one."""
    events = []
    return events, lambda *parts: events.append(list(parts))
