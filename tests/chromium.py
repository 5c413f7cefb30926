"""Headless Chromium driven over the DevTools protocol on a pipe (--remote-debugging-pipe:
commands in on fd 3, answers out on fd 4, each a JSON text ended by a NUL byte): no port,
no WebSocket library, no network beyond the page's own loopback address.

Debian's ``chromium`` is installed by ``debian.ensure`` when missing. The flags keep it
off every network service of its own (updates, metrics, sync, safe browsing) so it runs
on a closed machine. The process is killed by PID at the end.
"""

import base64
import fcntl
import json
import os
import select
import signal
import subprocess
import time

import debian
from daemon import children

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--no-default-browser-check",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-extensions", "--disable-default-apps", "--disable-domain-reliability",
         "--disable-features=Translate,OptimizationHints,MediaRouter,DialMediaRouteProvider",
         "--metrics-recording-only", "--safebrowsing-disable-auto-update", "--password-store=basic",
         "--use-mock-keychain", "--hide-scrollbars", "--mute-audio"]


def binary():
    """(path, None) or (None, why)."""
    return debian.ensure("chromium", "chromium")


class Chromium:
    def __init__(self, path, profile_dir):
        os.makedirs(profile_dir, exist_ok=True)
        to_browser_r, self.to_browser = os.pipe()
        self.from_browser, from_browser_w = os.pipe()

        def wire_fds():  # in the child: the pipe ends as fd 3 (commands) and fd 4 (answers); the
            # other descriptors Python opened are not inheritable, so close_fds=False leaks none
            high = [fcntl.fcntl(fd, fcntl.F_DUPFD, 10) for fd in (to_browser_r, from_browser_w)]
            for fd, target in zip(high, (3, 4)):
                os.dup2(fd, target)
                os.set_inheritable(target, True)
        self.log_path = os.path.join(profile_dir, "chromium.log")
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen([path, *FLAGS, "--remote-debugging-pipe", f"--user-data-dir={profile_dir}",
                                          "about:blank"], stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                         preexec_fn=wire_fds, close_fds=False)
        os.close(to_browser_r)
        os.close(from_browser_w)
        self.next_id = 0
        self.buffer = b""
        self.session = None

    def log(self):
        with open(self.log_path, errors="replace") as fh:
            return fh.read()

    def call(self, method, timeout=30, session=True, **params):
        """Send one command and return its result (events read meanwhile are dropped)."""
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params}
        if session and self.session:
            message["sessionId"] = self.session
        os.write(self.to_browser, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            while b"\0" in self.buffer:
                raw, self.buffer = self.buffer.split(b"\0", 1)
                answer = json.loads(raw)
                if answer.get("id") == self.next_id:
                    if "error" in answer:
                        raise RuntimeError(f"{method}: {answer['error']}")
                    return answer["result"]
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"chromium did not answer {method} in {timeout} s:\n{self.log()[-2000:]}")
            ready, _, _ = select.select([self.from_browser], [], [], left)
            if ready:
                chunk = os.read(self.from_browser, 1 << 20)
                if not chunk:
                    raise RuntimeError(f"chromium went away:\n{self.log()[-2000:]}")
                self.buffer += chunk

    def open(self, url, width=1100, height=520):
        """A new tab on ``url``; later calls talk to it."""
        target = self.call("Target.createTarget", session=False, url="about:blank")["targetId"]
        self.session = self.call("Target.attachToTarget", session=False, targetId=target, flatten=True)["sessionId"]
        self.call("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1,
                  mobile=False)
        self.call("Page.enable")
        self.call("Page.navigate", url=url)

    def evaluate(self, expression):
        """The value of a JavaScript expression in the page (JSON-able values only)."""
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def screenshot(self, path):
        data = self.call("Page.captureScreenshot", format="png")["data"]
        with open(path, "wb") as fh:
            fh.write(base64.b64decode(data))

    def descendants(self):
        found, todo = [], [self.proc.pid]
        while todo:
            kids = children(todo.pop())
            found += kids
            todo += kids
        return found

    def close(self):
        """Kill the browser and every process it started, by PID."""
        if self.proc.poll() is None:
            spawned = self.descendants()
            self.proc.kill()
            self.proc.wait(10)
            for pid in spawned:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        for fd in (self.to_browser, self.from_browser):
            try:
                os.close(fd)
            except OSError:
                pass
