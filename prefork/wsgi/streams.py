"""The byte streams of a WSGI call: ``wsgi.input``, ``wsgi.errors``, ``wsgi.file_wrapper``,
and the sendfile path for a file response."""

import io
import logging
import os

log = logging.getLogger("prefork.wsgi")


class FileWrapper:
    """``wsgi.file_wrapper``: iterates blocks; sent with sendfile when possible."""

    def __init__(self, filelike, blksize=65536):
        self.filelike = filelike
        self.blksize = blksize
        if hasattr(filelike, "close"):
            self.close = filelike.close

    def __iter__(self):
        read = self.filelike.read
        while True:
            block = read(self.blksize)
            if not block:
                return
            yield block


class InputStream(io.RawIOBase):
    """``wsgi.input``: the body, read whole (memory or a temporary file) before the app runs."""

    def __init__(self, body=None, length=None):
        self._body = body if body is not None else io.BytesIO()
        self.length = length

    @classmethod
    def empty(cls):
        return cls(EMPTY, length=0)

    def readable(self):
        return True

    def read(self, size=-1):
        return self._body.read(size if size is not None else -1)

    def readline(self, size=-1):
        return self._body.readline(size)

    def readlines(self, hint=-1):
        return self._body.readlines(hint)

    def readinto(self, buffer):
        data = self.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)

    def __iter__(self):
        return iter(self._body)


class _EmptyBody:
    """The body of a request without one: reads nothing."""

    def read(self, size=-1):
        return b""

    def readline(self, size=-1):
        return b""

    def readlines(self, hint=-1):
        return []

    def __iter__(self):
        return iter(())


EMPTY = _EmptyBody()


class Errors:
    """``wsgi.errors``: lines go to the error log."""

    def write(self, text):
        text = text.rstrip("\n")
        if text:
            log.error("%s", text)

    def writelines(self, lines):
        for line in lines:
            self.write(line)

    def flush(self):
        pass


class SendFile:
    """Sends a file region with os.sendfile once the socket's queue is empty."""

    def __init__(self, call, fd, offset, count):
        self.call = call
        self.socket = call.res.socket
        self.fd = fd
        self.offset = offset
        self.remaining = count

    def start(self):
        socket = self.socket
        if socket.buffered_size:
            socket.after_flush(self.start)
            return
        self.step()

    def step(self):
        socket = self.socket
        loop = socket.loop
        if socket.destroyed:
            self.call.finish()
            return
        try:
            while self.remaining > 0:
                sent = os.sendfile(socket.fileno(), self.fd, self.offset, min(self.remaining, 1 << 20))
                if sent == 0:
                    break
                self.offset += sent
                self.remaining -= sent
        except (BlockingIOError, InterruptedError):
            loop.add_writer(socket.fileno(), self._writable)
            return
        except OSError:
            socket.destroy()
            self.call.finish()
            return
        self.call.res.end()
        self.call.finish()

    def _writable(self):
        self.socket.loop.remove_writer(self.socket.fileno())
        self.step()
