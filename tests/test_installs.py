"""Installs as the README writes them: the quick start in a virtual environment where the
system Python is externally managed (PEP 668), the systemd units verified against the venv
layout the README deploys, and CI running the README's test command.

The checkout is copied to a temporary directory first (the files as they are on disk);
the /opt/prefork layout is made in a private mount namespace on a tmpfs, so nothing is
left on the machine."""

import os
import re
import shutil
import signal
import socket
import subprocess
import sys

import pytest

from daemon import ROOT, alive, children, wait_until
from debian import ensure
from harness import read_until_close

README = os.path.join(ROOT, "README.md")
SERVICE = os.path.join(ROOT, "systemd", "prefork.service")
SOCKET_UNIT = os.path.join(ROOT, "systemd", "prefork.socket")
INSTALL_TIMEOUT = 600  # a fresh machine downloads the wheels; this one has them cached


def readme_blocks(section=None):
    """The ```sh blocks of the README (of one ``## section`` only, if given)."""
    text = open(README).read()
    if section is not None:
        start = text.index(f"\n## {section}\n")
        end = text.find("\n## ", start + 1)
        text = text[start:end if end >= 0 else None]
    return re.findall(r"```sh\n(.*?)```", text, re.S)


def top_commands():
    blocks = readme_blocks()
    return blocks[0].strip(), blocks[1].strip()


def externally_managed_python():
    """(path, stdlib) of a python3 on this machine whose stdlib has EXTERNALLY-MANAGED."""
    candidates = ["/usr/bin/python3", shutil.which("python3"), sys.executable]
    for candidate in dict.fromkeys(c for c in candidates if c):
        try:
            out = subprocess.run([candidate, "-c", "import sysconfig; print(sysconfig.get_path('stdlib'))"],
                                 capture_output=True, text=True, timeout=30)
        except OSError:
            continue
        stdlib = out.stdout.strip()
        if out.returncode == 0 and os.path.exists(os.path.join(stdlib, "EXTERNALLY-MANAGED")):
            return candidate, stdlib
    return None, None


def ensure_venv_module(python, stdlib):
    """Debian splits ``venv``'s ensurepip into python3.X-venv: install it when missing."""
    check = subprocess.run([python, "-c", "import ensurepip"], capture_output=True, timeout=30)
    if check.returncode == 0:
        return None
    version = os.path.basename(stdlib)  # python3.11
    _, why = ensure(os.path.join(stdlib, "ensurepip"), f"{version}-venv")
    return why


def copy_checkout(dest):
    """The checkout's files as they are on disk (tracked and new, not ignored) into ``dest``."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                            capture_output=True, timeout=60) if shutil.which("git") else None
    if listed is not None and listed.returncode == 0:
        for rel in filter(None, listed.stdout.decode().split("\0")):
            source = os.path.join(ROOT, rel)
            if os.path.isfile(source):
                os.makedirs(os.path.dirname(os.path.join(dest, rel)), exist_ok=True)
                shutil.copy2(source, os.path.join(dest, rel))
    else:
        shutil.copytree(ROOT, dest, dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns(".venv", ".git", "__pycache__", "*.egg-info", "build"))


def python3_first(tmp_path, python):
    """An environment whose ``python3`` is ``python`` and that carries no test settings."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    link = bin_dir / "python3"
    if not link.exists():
        link.symlink_to(python)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PREFORK_", "PYTHON", "VIRTUAL_ENV", "PYTEST"))}
    env["PATH"] = os.pathsep.join([str(bin_dir), "/usr/local/bin", "/usr/bin", "/bin", "/usr/sbin", "/sbin"])
    return env


def unit_documentation():
    return re.findall(r"^Documentation=(\S+)$", open(SERVICE).read(), re.M)


# -- the README's commands ------------------------------------------------------------------------
def test_ci_runs_exactly_the_readme_test_command():
    _, test_command = top_commands()
    assert test_command == ("python3 -m venv .venv && .venv/bin/pip install '.[test]' "
                            "&& .venv/bin/python -m pytest -q -n 2 --dist loadfile tests")
    ci = open(os.path.join(ROOT, ".ci", "run")).read().splitlines()
    assert test_command in ci


def test_every_install_command_of_the_readme_uses_a_virtual_environment():
    for block in readme_blocks():
        for line in block.splitlines():
            command = line.split("#", 1)[0].strip()
            if re.search(r"\bpip3? install\b", command):
                assert re.search(r"(^|sudo |&& )(\.venv|/opt/prefork/venv)/bin/pip install ", command), line
            assert "--break-system-packages" not in command and "ln -s" not in command, line


def test_the_quick_start_works_where_the_system_python_is_externally_managed(tmp_path):
    python, stdlib = externally_managed_python()
    if python is None:
        pytest.skip("no python3 here has an EXTERNALLY-MANAGED marker (PEP 668) to check against")
    why = ensure_venv_module(python, stdlib)
    if why:
        pytest.skip(why)
    run_command, _ = top_commands()
    install, sep, start = run_command.rpartition(" && ")
    assert sep and start == ".venv/bin/prefork" and install.startswith("python3 -m venv .venv && ")
    checkout = tmp_path / "checkout"
    copy_checkout(checkout)
    env = python3_first(tmp_path, python)

    has_pip = subprocess.run(["python3", "-m", "pip", "--version"], env=env, capture_output=True,
                             timeout=60).returncode == 0
    if has_pip:  # what the README said before: refused by the system's pip
        refused = subprocess.run(["python3", "-m", "pip", "install", "."], cwd=checkout, env=env,
                                 capture_output=True, text=True, timeout=120)
        assert refused.returncode != 0
        assert "externally-managed-environment" in refused.stdout + refused.stderr

    installed = subprocess.run(["bash", "-c", install], cwd=checkout, env=env, capture_output=True, text=True,
                               timeout=INSTALL_TIMEOUT)
    assert installed.returncode == 0, installed.stdout[-2000:] + installed.stderr[-2000:]
    doc_dir = checkout / ".venv" / "share" / "doc" / "prefork"
    for url in unit_documentation():  # what the unit's Documentation= names is what pip installed
        assert (doc_dir / os.path.basename(url)).is_file(), url

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    port = sock.getsockname()[1]
    log_path = tmp_path / "daemon.log"
    run_env = dict(env, PREFORK_BIND=f"fd://{sock.fileno()}", PREFORK_WORKERS="1",
                   PREFORK_METRICS_BIND="127.0.0.1:0", PREFORK_ACCESS_LOG="")
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(start.split(), cwd=checkout, env=run_env, stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, pass_fds=(sock.fileno(),))
    sock.close()
    seen = {proc.pid}
    try:
        wait_until(lambda: seen.update(children(proc.pid)) or "workers ready" in log_path.read_text()
                   or proc.poll() is not None, 60, what="the daemon to be ready")
        assert proc.poll() is None, log_path.read_text()
        client = socket.create_connection(("127.0.0.1", port), timeout=10)
        client.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        response = read_until_close(client)
        client.close()
        assert response.startswith(b"HTTP/1.1 200 OK\r\n"), response
        seen.update(children(proc.pid))
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0, log_path.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        for pid in seen:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)


# -- the systemd units -------------------------------------------------------------------------------
def test_the_service_unit_runs_prefork_from_the_venv_hardened():
    service = open(SERVICE).read()
    lines = service.splitlines()
    for line in ("ExecStart=/opt/prefork/venv/bin/prefork --config /etc/prefork/prefork.toml",
                 "WorkingDirectory=/opt/prefork/app", "Type=notify", "NotifyAccess=main",
                 "ExecReload=/bin/kill -HUP $MAINPID", "KillSignal=SIGTERM", "Restart=on-failure",
                 "NoNewPrivileges=yes", "ProtectSystem=strict", "PrivateTmp=yes", "RuntimeDirectory=prefork",
                 "LogsDirectory=prefork"):
        assert line in lines, line
    assert re.search(r"^Environment=.*\bPYTHONPATH=/opt/prefork/app\b", service, re.M)
    # ProtectHome hides /home, /root and /run/user: nothing the unit names may live there
    for path in re.findall(r"(/[\w./-]+)", "\n".join(l for l in lines if not l.startswith("#"))):
        assert not path.startswith(("/home", "/root", "/run/user")), path
    docs = unit_documentation()
    assert docs and all(d.startswith("file:///opt/prefork/venv/share/doc/prefork/") for d in docs), docs
    stop = int(re.search(r"^TimeoutStopSec=(\d+)$", service, re.M).group(1))
    assert stop > 30  # above graceful_timeout's default
    assert re.search(r"^WatchdogSec=\d+$", service, re.M)
    assert "ListenStream=" in open(SOCKET_UNIT).read()


def deploy_commands():
    """The README's deploy steps that build /opt/prefork (sudo dropped), in order."""
    wanted = ("python3 -m venv /opt/prefork/venv", "/opt/prefork/venv/bin/pip install .",
              "install -d /opt/prefork/app")
    found = []
    for block in readme_blocks("Deploy with systemd"):
        for line in block.splitlines():
            command = line.split("#", 1)[0].strip()
            command = command[len("sudo "):] if command.startswith("sudo ") else command
            if command in wanted:
                found.append(command)
    assert found == list(wanted), found
    return found


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_systemd_analyze_verify_passes_on_the_units_as_shipped_with_the_readme_venv(tmp_path):
    if os.geteuid() != 0 or shutil.which("unshare") is None or not os.path.isdir("/opt"):
        pytest.skip("needs root, unshare and /opt to lay out /opt/prefork in a private mount namespace")
    python, _ = externally_managed_python()
    python = python or shutil.which("python3") or sys.executable
    env = python3_first(tmp_path, python)
    checkout = tmp_path / "checkout"
    copy_checkout(checkout)
    existed = os.path.exists("/opt/prefork")
    host_opt = tmp_path / "host-opt"
    host_opt.mkdir()
    docs = " ".join("/" + url[len("file:///"):] for url in unit_documentation())
    script = "\n".join([
        "set -eu",
        # /opt becomes a tmpfs seen by this namespace only; what the host has there stays reachable
        f"mount --bind /opt {host_opt}",
        "mount -t tmpfs prefork-test /opt",
        f"for entry in {host_opt}/*; do [ -e \"$entry\" ] && ln -s \"$entry\" /opt/; done",
        *deploy_commands(),
        f"systemd-analyze verify {SERVICE} {SOCKET_UNIT}",
        f"/opt/prefork/venv/bin/prefork check-config --config {checkout}/config/prefork.toml > /dev/null",
        f"for doc in {docs}; do test -f \"$doc\"; done",
        "echo verified",
    ])
    proc = subprocess.run(["unshare", "--mount", "--propagation", "private", "bash", "-c", script], cwd=checkout,
                          env=env, capture_output=True, text=True, timeout=INSTALL_TIMEOUT)
    assert proc.returncode == 0 and proc.stdout.strip().endswith("verified"), \
        proc.stdout[-2000:] + proc.stderr[-3000:]
    assert os.path.exists("/opt/prefork") == existed  # the layout lived in the namespace only
