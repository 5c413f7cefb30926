"""A reload's warning that a restart-only mode setting (``umask``, ``unix_socket_mode``)
is kept names the kept mode as it is written (``0o022``), not as a decimal number."""

import signal


def test_the_kept_umask_and_socket_mode_are_shown_in_octal(daemons, tmp_path):
    config = tmp_path / "prefork.toml"
    config.write_text('umask = "0o022"\nunix_socket_mode = "0o660"\n')
    d = daemons("--config", str(config), workers=1)
    d.wait_ready()
    config.write_text('umask = "0o077"\nunix_socket_mode = "0o600"\n')
    d.signal(signal.SIGHUP)
    d.wait_log(r"reload: generation 2 ready|reload refused")
    log = d.log()
    assert "reload: umask changed but needs a restart (or USR2); keeping 0o022" in log, log
    assert "reload: unix_socket_mode changed but needs a restart (or USR2); keeping 0o660" in log, log
    d.signal(signal.SIGTERM)
    assert d.wait_exit() == 0
