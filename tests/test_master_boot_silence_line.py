"""The line for a worker aborted while it boots says what happened: an async boot step
(a lifespan startup) that sent its heartbeat and then blocked the loop is named by its
silence, not by the worker's age; an import that runs past ``timeout`` says so."""

import re



def test_a_lifespan_startup_that_blocks_the_loop_is_named_by_its_silence(daemons, tmp_path):
    block = tmp_path / "block"
    block.write_text("")
    d = daemons("--timeout", "1", app="apps.asgi_startup_blocks:app", workers=1,
                env={"BLOCK_FILE": str(block), "RELEASE_FILE": str(tmp_path / "never")})
    assert d.wait_exit(30) == 3
    log = d.log()
    found = re.search(r"worker 0 \(pid \d+\) sent no heartbeat for (\d+\.\d) s while booting \((\d+\.\d) s after "
                      r"it started\), longer than timeout \(1\.0 s\): its async setup or lifespan startup blocks "
                      r"the event loop; aborting it \(stack follows in the error log\)", log)
    assert found and 1.0 <= float(found.group(1)) <= float(found.group(2)), log
    assert "is still booting after" not in log


def test_an_import_past_timeout_is_named_as_the_app_still_loading(daemons):
    d = daemons("--timeout", "1", app="apps.journey_ops:slow_setup", workers=1, env={"BOOT_SECONDS": "60"})
    assert d.wait_exit(30) == 3
    log = d.log()
    assert re.search(r"worker 0 \(pid \d+\) is still booting after \d+\.\d s: loading its app \(import, setup\) took "
                     r"longer than timeout \(1\.0 s\); aborting it", log), log
    assert "sent no heartbeat" not in log
