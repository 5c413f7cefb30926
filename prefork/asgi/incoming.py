"""The bytes a WebSocket session receives, made into ASGI messages.

Rules:
- Frames are cut at their boundaries here; a whole uncompressed message in one frame
  is unmasked and delivered directly, every other frame goes to wsproto whole (see
  ``frames.py``), or, for a frame longer than what has arrived, piece by piece as it
  comes, so a large frame is never kept here. A plain frame still arriving is kept in
  one buffer that grows as bytes come (never copied whole per read: a message of
  ``max_size`` costs its length, not its square).
- Before the app accepts, bytes are only kept (``keep``); ``flush`` takes them once the
  session is open.
- A message over ``max_size`` bytes (a frame's declared length, fragments as they add
  up, text counted in UTF-8 bytes; a compressed one as it inflates, its frame refused by
  its length only past what deflate makes of ``max_size`` bytes that do not compress,
  so random data at the limit is taken) is refused through the session (1009); the rest of
  a frame refused by its declared length is dropped as it arrives (nothing of it is
  kept, however long the client goes on sending it), and the frames after it are
  read as before. Invalid UTF-8 in a plain frame goes to wsproto, which closes with
  1007.
- A fragmented message is kept as it comes, its fragments joined every
  ``_JOIN_EVERY`` (and empty ones dropped), so what it costs in memory stays near its
  size in bytes however small its fragments (tiny fragments up to ``max_size`` were
  Python objects several times their payload; empty ones, never counted, grew a list
  without end). A message of more frames (empty ones too) than ``max_frames`` is
  refused with 1009, "too many fragments", as the ``websockets`` library refuses one
  of more than 4096: a client's endless stream of empty continuation frames would
  otherwise cost the worker's CPU for ever while the message never grows. The limit
  is 4096, or as many 4 KiB frames as ``max_size`` holds when that is more (clients
  such as Go's gorilla/websocket send a message in 4 KiB frames: a raised
  ``ws_max_size`` must let them send that size).
- One read is taken ``_BUDGET`` at a time (a plain frame costs 1, a frame through
  wsproto ``_WSPROTO``): past it the rest is kept and the session takes it on the
  next loop turn (``yield_reading``), so a client sending a burst of tiny frames
  (pings, fragments) holds the worker's loop for about a millisecond at a time, not
  for a whole read's worth of frames.
- Once the app's inbox is full (the session paused), no more frames are taken from
  the read in hand either: the rest is kept until the app has received enough, so a
  read of small compressed messages that inflate to megabytes each holds one inbox's
  worth, not the whole read's.
- Messages go to ``session.deliver``; what wsproto reports besides them (pings, pongs,
  a close frame, bytes after the closing handshake) to the session's own handlers.
  After any of them the session's ``state`` says whether to read on. After a close
  frame wsproto's parser is run to its end (it ends there), so it does not hold its
  protocol (and the compressor) in a reference cycle once the session is over.
"""

from wsproto.events import BytesMessage, CloseConnection, Ping, Pong, TextMessage
from wsproto.utilities import LocalProtocolError

from .frames import is_plain, is_text, next_frame, starts_fragments, unmask, well_formed

_JOIN_EVERY = 64  # fragments of a message kept apart at most, before they are joined
_BUDGET = 256  # work taken from one read in one go (a frame through wsproto costs _WSPROTO)
_WSPROTO = 4
_MAX_FRAGMENTS = 4096  # frames of one message at least (the websockets library's MAX_FRAGMENTS)
_FRAME_UNIT = 4096  # ... or max_size in frames of this size, when that is more
_TOO_MANY = "too many fragments"  # the reason of its 1009, as websockets words it


class Incoming:
    def __init__(self, session, ws, max_size):
        self.session = session
        self.ws = ws  # the session's wsproto connection
        self.max_size = max_size
        self.max_frames = max(_MAX_FRAGMENTS, -(-max_size // _FRAME_UNIT))
        # a compressed frame's bound on the wire: what deflate may make of a message of
        # max_size that does not compress (zlib's deflateBound stays under it)
        self.max_wire = max_size + (max_size >> 11) + 64
        self.inbuf = None  # bytes of a frame not whole yet (and, before the accept, every frame)
        self.fragmented = False  # a fragmented message is going through wsproto
        self.frames = 0  # its frames so far
        self.passthrough = 0  # bytes of a partly received frame still owed to wsproto
        self.skipping = 0  # bytes of a frame refused as too big still to drop
        self.parts = None  # fragments of a message wsproto is assembling
        self.part_size = 0
        self.joined = 0  # parts before this index are already joined runs of fragments

    def keep(self, data):
        """Bytes that wait for the accept; how many are kept."""
        if self.inbuf is None:
            self.inbuf = bytearray(data)
        else:
            self.inbuf += data
        return len(self.inbuf)

    def flush(self):
        """The session is open: the frames kept before the accept are taken."""
        if self.inbuf is not None:
            buffered, self.inbuf = self.inbuf, None
            self.feed(buffered)

    def feed(self, data):
        inbuf = self.inbuf
        if inbuf is not None:
            inbuf += data
            data = inbuf
        self.consume(data)

    def consume(self, buf):
        """Take every whole frame in ``buf``: plain messages here, the rest through wsproto."""
        session = self.session
        size = len(buf)
        pos = 0
        max_size = self.max_size
        spent = 0
        yielded = False
        while True:
            if spent >= _BUDGET and pos < size:
                yielded = True  # the rest waits for the next loop turn
                break
            if session.paused and pos < size and not self.skipping:
                break  # the app's inbox is full: the rest of this read waits with the socket paused
            if self.skipping:  # the rest of a frame refused as too big: dropped as it comes
                take = min(self.skipping, size - pos)
                if not take:
                    break
                self.skipping -= take
                pos += take
                continue
            if self.passthrough:  # the rest of a frame wsproto is reading piece by piece
                take = min(self.passthrough, size - pos)
                if not take:
                    break
                self.passthrough -= take
                pos += take
                spent += _WSPROTO
                self.to_wsproto(bytes(buf[pos - take:pos]))
                if session.state == "closed":
                    return
                continue
            found = next_frame(buf, pos, size)
            if found is None:
                break
            header, end, length = found
            first = buf[pos]
            if length > max_size and first & 0x0F < 3 and (not first & 0x40 or length > self.max_wire) \
                    and well_formed(buf, pos, length):
                session.too_big()
                # its bytes are dropped as they come, never kept: the frames behind it
                # (the client's close echo) are still read in step
                self.skipping = end - pos
                continue
            plain = not self.fragmented and is_plain(first, buf[pos + 1]) and well_formed(buf, pos, length)
            if end > size:
                if plain:
                    break  # kept until whole
                self.passthrough = end - pos  # not plain: wsproto reads it as it comes
                self.count(first)
                continue
            if plain:
                spent += 1
                if session.state == "open":
                    payload = unmask(buf, header, end, length)
                    if is_text(first):
                        try:
                            text = payload.decode("utf-8")
                        except UnicodeDecodeError:
                            self.to_wsproto(bytes(buf[pos:end]))  # wsproto closes with 1007
                        else:
                            session.deliver({"type": "websocket.receive", "text": text}, len(text))
                    else:
                        session.deliver({"type": "websocket.receive", "bytes": payload}, length)
            else:
                self.count(first)
                spent += _WSPROTO
                self.to_wsproto(bytes(buf[pos:end]))
            pos = end
            if session.state == "closed":
                return
        if yielded:
            session.yield_reading()
        if pos >= size:
            self.inbuf = None
        elif buf is not self.inbuf:
            self.inbuf = bytearray(buf[pos:])
        elif pos:
            del buf[:pos]  # the frames taken go; the rest stays where it is
        # else: a frame still arriving, kept as it is (copying it on every read would
        # cost the square of its length)

    def count(self, first):
        """The frames of a fragmented message are counted: past ``max_frames`` it is
        refused (1009), as the ``websockets`` library refuses it past 4096."""
        if starts_fragments(first):
            self.fragmented = True
            self.frames = 1
        elif not first & 0x0F and self.fragmented:  # a continuation
            if first & 0x80:
                self.fragmented = False
            self.frames += 1
            if self.frames == self.max_frames + 1:
                self.session.too_big(_TOO_MANY)

    def to_wsproto(self, frame):
        session = self.session
        try:
            self.ws.receive_data(frame)
        except LocalProtocolError:
            session.bytes_after_close()
            return
        events = self.ws.events()
        for event in events:
            kind = type(event)
            if kind is TextMessage or kind is BytesMessage:
                self.on_message(event, kind is TextMessage)
            elif kind is Ping:
                session.on_ping(event)
            elif kind is Pong:
                session.keepalive.on_pong(event.payload)
            elif kind is CloseConnection:
                session.on_close_frame(event)
                for _ in events:  # wsproto's frame parser ends after a close frame: run to its end,
                    pass  # it is freed with its connection (left suspended, it holds it in a cycle)
            if session.state == "closed":
                return

    def on_message(self, event, text):
        session = self.session
        if session.state != "open":
            return
        data = event.data
        size = len(data) if not text or data.isascii() else len(data.encode("utf-8", "surrogatepass"))
        if self.parts is None and event.message_finished:
            if size > self.max_size:
                session.too_big()
                return
            session.deliver({"type": "websocket.receive", "text": data} if text else
                            {"type": "websocket.receive", "bytes": bytes(data)}, len(data))
            return
        parts = self.parts
        if parts is None:
            parts = self.parts = []
            self.part_size = 0
            self.joined = 0
        if data:  # an empty fragment adds nothing (and is not kept: a flood of them costs no memory)
            parts.append(data)
            if len(parts) - self.joined >= _JOIN_EVERY:  # many small fragments: kept joined
                tail = parts[self.joined:]
                del parts[self.joined:]
                parts.append(("" if text else b"").join(tail))
                self.joined = len(parts)
        self.part_size += size
        if self.part_size > self.max_size:
            self.parts = None
            session.too_big()
            return
        if event.message_finished:
            parts, self.parts = self.parts, None
            data = "".join(parts) if text else b"".join(parts)
            session.deliver({"type": "websocket.receive", "text": data} if text else
                            {"type": "websocket.receive", "bytes": data}, len(data))
