import asyncio
import os
import sys
import threading

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

# variables other servers read, which prefork reads too below its own settings (PORT the
# bind, WEB_CONCURRENCY the workers, SCRIPT_NAME the root path, FORWARDED_ALLOW_IPS the
# trusted proxies): a machine that sets them must not change what the tests start
for _name in ("PORT", "WEB_CONCURRENCY", "SCRIPT_NAME", "FORWARDED_ALLOW_IPS"):
    os.environ.pop(_name, None)

if os.environ.get("PREFORK_TEST_LOOP") == "uvloop":
    # a whole run on uvloop: the ServerThread loops below, each test's own
    # asyncio.new_event_loop() (the policy), and the workers of the daemons a test starts
    import uvloop
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    os.environ.setdefault("PREFORK_LOOP", "uvloop")

import prefork  # noqa: E402
from prefork.runtime import new_event_loop  # noqa: E402
from daemon import Daemon  # noqa: E402


class ServerThread:
    """A prefork Server whose loop runs in a background thread of the test process."""

    def __init__(self, setup=None, loop_name=None, **options):
        self.loop = new_event_loop(loop_name or os.environ.get("PREFORK_TEST_LOOP", "asyncio"))
        self.server = prefork.create_server(loop=self.loop, **options)
        self.events = []
        self._lock = threading.Condition()
        if setup is not None:
            setup(self.server, self)
        self.server.listen(0)
        self.port = self.server.address()["port"]
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def record(self, *event):
        with self._lock:
            self.events.append(event)
            self._lock.notify_all()

    def wait_for(self, predicate, timeout=5.0):
        import time
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                for event in self.events:
                    if predicate(event):
                        return event
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"no matching event in {self.events}")
                self._lock.wait(remaining)

    def call(self, fn, *args, timeout=5.0):
        """Run ``fn(*args)`` on the loop thread and return its result."""
        done = threading.Event()
        box = {}

        def run():
            try:
                box["value"] = fn(*args)
            except BaseException as exc:  # handed back to the test
                box["error"] = exc
            done.set()
        self.loop.call_soon_threadsafe(run)
        if not done.wait(timeout):
            raise TimeoutError("the loop did not run the call")
        if "error" in box:
            raise box["error"]
        return box.get("value")

    def stop(self):
        def shutdown():
            self.server.close_all_connections()
            self.server.close()
            self.loop.stop()
        self.loop.call_soon_threadsafe(shutdown)
        self.thread.join(5)
        if not self.thread.is_alive():
            self._finish_tasks()
        self.loop.close()

    def _finish_tasks(self):
        """Tasks still pending (an app's coroutine that waits on a connection closed by
        the shutdown above) are cancelled and run to their end: none is left for the
        collector to destroy later, in another test or in a process forked from this one."""
        pending = [task for task in asyncio.all_tasks(self.loop) if not task.done()]
        if pending:
            for task in pending:
                task.cancel()
            self.loop.run_until_complete(asyncio.wait(pending, timeout=5))


@pytest.fixture
def serve():
    started = []

    def start(setup=None, **options):
        st = ServerThread(setup, **options)
        started.append(st)
        return st
    yield start
    for st in started:
        st.stop()


@pytest.fixture
def daemons():
    """Start real daemons (python -m prefork); every process is killed by PID at the end."""
    started = []

    def start(*args, **kwargs):
        daemon = Daemon(*args, **kwargs)
        started.append(daemon)
        return daemon
    yield start
    for daemon in started:
        daemon.cleanup()


@pytest.fixture
def runs():
    """Start prefork commands the app-loading tests run (``test_app_loading.Run``); each
    is cleaned up (its processes killed by PID) at the end."""
    from test_app_loading import Run

    started = []

    def start(*args, **kwargs):
        started.append(Run(*args, **kwargs))
        return started[-1]
    yield start
    for run in started:
        run.cleanup()
