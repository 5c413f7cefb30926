"""Events apps about booting: ``imports_run`` calls asyncio.run() at import (as some
apps do to fetch a setting) and then asks asyncio for the loop in its setup;
``slow_setup`` is an async setup(server) that awaits SETUP_SECONDS (env) first."""

import asyncio
import os


async def _fetch():
    return "config"


CONFIG = asyncio.run(_fetch())  # leaves no current event loop behind it


def imports_run(server):
    loop = asyncio.get_event_loop()  # (raised "There is no current event loop")
    server.on("request", lambda req, res: res.end(f"{CONFIG} {loop is server.loop}"))


async def slow_setup(server):
    await asyncio.sleep(float(os.environ.get("SETUP_SECONDS", "0")))
    server.on("request", lambda req, res: res.end("set up"))
