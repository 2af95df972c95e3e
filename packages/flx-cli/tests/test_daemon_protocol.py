"""The daemon's protocol: which invocations it takes, its socket directory, its fingerprint,
and message framing with file descriptors."""

from __future__ import annotations

import os
import socket
import struct
from pathlib import Path

import pytest

from flx_cli.daemon import protocol


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["run", "demo"], True),
        (["--json", "run", "demo", "--full-refresh"], True),
        (["-v", "--debug", "run", "demo"], True),
        (["run", "--help"], False),
        (["--help"], False),
        (["--version"], False),
        (["pipeline", "list"], True),
        (["--json", "execution", "logs", "abc", "--follow"], True),
        (["webhook", "test"], True),
        (["user", "create", "--admin"], False),
        (["auth", "login"], False),
        (["daemon", "status"], False),
        (["serve"], False),
        (["--verbose", "worker"], False),
        (["scheduler"], False),
        ([], False),
        (["--unknown-flag", "run", "demo"], False),
    ],
)
def test_which_invocations_go_to_the_daemon(argv: list[str], expected: bool) -> None:
    assert protocol.eligible(argv) is expected


def test_the_daemon_is_linux_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLX_DAEMON", "auto")
    monkeypatch.setattr(protocol.sys, "platform", "darwin")
    assert protocol.mode() == "off"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        *((v, "off") for v in ("off", "OFF", "0", "false", "no")),
        *((v, "on") for v in ("on", " On ", "1", "true", "yes")),
        *((v, "auto") for v in ("auto", "", "sometimes")),
        (None, "auto"),
    ],
)
def test_flx_daemon_modes(
    monkeypatch: pytest.MonkeyPatch, value: str | None, expected: str
) -> None:
    if value is None:
        monkeypatch.delenv("FLX_DAEMON", raising=False)
    else:
        monkeypatch.setenv("FLX_DAEMON", value)
    assert protocol.mode() == expected


def test_interactive_means_stdin_and_stdout_are_terminals() -> None:
    """Checked in a child whose fds 0 and 1 are chosen: a pty, a pipe, /dev/null."""
    import pty
    import subprocess
    import sys

    probe = "from flx_cli.daemon import protocol; print(protocol.interactive(), file=sys.stderr)"
    controller, terminal = pty.openpty()
    try:
        answers = []
        for stdin, stdout in ((terminal, terminal), (terminal, subprocess.PIPE), (None, terminal)):
            child = subprocess.run(
                [sys.executable, "-c", f"import sys; {probe}"],
                stdin=stdin if stdin is not None else subprocess.DEVNULL,
                stdout=stdout,
                stderr=subprocess.PIPE,
                text=True,
                timeout=60,
                check=True,
            )
            answers.append(child.stderr.strip())
    finally:
        os.close(controller)
        os.close(terminal)
    assert answers == ["True", "False", "False"]


def test_runtime_dir_is_created_private(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLX_DAEMON_DIR", str(tmp_path / "rd"))
    path = protocol.runtime_dir()
    assert path == str(tmp_path / "rd")
    assert os.stat(path).st_mode & 0o777 == 0o700


def test_a_directory_others_can_reach_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    monkeypatch.setenv("FLX_DAEMON_DIR", str(shared))
    assert protocol.runtime_dir() is None
    link = tmp_path / "link"
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    link.symlink_to(private)
    monkeypatch.setenv("FLX_DAEMON_DIR", str(link))
    assert protocol.runtime_dir() is None


def test_fingerprint_follows_sources_and_interpreter_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = tmp_path / "flx_fake"
    package.mkdir()
    (package / "mod.py").write_text("A = 1\n")
    monkeypatch.setattr(protocol, "_package_dirs", lambda: [str(package)])
    first = protocol.fingerprint()
    assert protocol.fingerprint() == first
    (package / "mod.py").write_text("A = 22\n")
    edited = protocol.fingerprint()
    assert edited != first
    (package / "new.py").write_text("")
    added = protocol.fingerprint()
    assert added != edited
    monkeypatch.setenv("PYTHONWARNINGS", "error")
    assert protocol.fingerprint() != added


def test_fingerprint_follows_installed_distributions_not_bytecode(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = tmp_path / "site-packages"
    (site / "orjson-3.10.0.dist-info").mkdir(parents=True)
    monkeypatch.setattr(protocol, "_purelib", lambda: str(site))
    first = protocol.fingerprint()
    (site / "__pycache__").mkdir()  # compiling bytecode: no code changed
    (site / "typing_extensions.py").write_text("")
    assert protocol.fingerprint() == first
    (site / "orjson-3.10.0.dist-info").rename(site / "orjson-3.11.0.dist-info")  # an upgrade
    upgraded = protocol.fingerprint()
    assert upgraded != first
    (site / "msgspec-0.19.0.dist-info").mkdir()  # an install
    assert protocol.fingerprint() != upgraded


def test_the_real_package_dirs_are_found() -> None:
    dirs = protocol._package_dirs()
    names = {Path(d).name for d in dirs}
    assert {"flx_core", "flx_cli", "flx_meltano"} <= names


def test_messages_and_descriptors_cross_a_socket(tmp_path: Path) -> None:
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    with a, b, open(tmp_path / "f.txt", "w") as handle:
        big = {"env": {"K": "v" * 200_000}, "argv": ["run", "x"]}
        protocol.send(a, big, [handle.fileno()])
        message, fds = protocol.receive_with_fds(b, 3)
        assert message == big
        assert len(fds) == 1
        os.write(fds[0], b"through the passed descriptor")
        os.close(fds[0])
        protocol.send(b, {"exit": 3})
        assert protocol.receive(a) == {"exit": 3}
        b.close()
        assert protocol.receive(a) is None
    assert (tmp_path / "f.txt").read_text() == "through the passed descriptor"


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        (struct.pack(">I", 5) + b"nope!", "not JSON"),
        (struct.pack(">I", 2) + b"[]", "must be a JSON object"),
        (struct.pack(">I", protocol.MAX_MESSAGE + 1), "over the limit"),
        (struct.pack(">I", 10) + b"{}", "connection closed after 2 of 10 bytes"),
    ],
)
def test_malformed_messages_are_named(raw: bytes, error: str) -> None:
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    with a, b:
        a.sendall(raw)
        a.shutdown(socket.SHUT_WR)
        with pytest.raises(protocol.ProtocolError, match=error):
            protocol.receive(b)


def test_the_daemon_keeps_no_settings_or_secrets_of_its_starter() -> None:
    from flx_cli.daemon.client import daemon_environment

    kept = daemon_environment(
        {
            "PATH": "/usr/bin",
            "PYTHONWARNINGS": "error",
            "LC_ALL": "C.UTF-8",
            "FLX_DAEMON_DIR": "/run/x",
            "FLX_DATABASE_URL": "postgresql://u:secret@db/flx",
            "TAP_X_PASSWORD": "hunter2",
            "AWS_SECRET_ACCESS_KEY": "k",
        }
    )
    assert kept == {
        "PATH": "/usr/bin",
        "PYTHONWARNINGS": "error",
        "LC_ALL": "C.UTF-8",
        "FLX_DAEMON_DIR": "/run/x",
    }


def test_a_daemon_that_failed_a_moment_ago_is_not_started_by_every_command(
    monkeypatch: pytest.MonkeyPatch, daemon_dir: Path
) -> None:
    import time

    from flx_cli.daemon import client

    monkeypatch.setenv("FLX_DAEMON_DIR", str(daemon_dir))
    log = client.log_path()
    assert log is not None and log.startswith(str(daemon_dir))
    with open(log, "w") as handle:
        handle.write("Traceback (most recent call last): ...\n")
    assert client.start_in_background() is False
    old = time.time() - client.RETRY_AFTER_SECONDS - 1
    os.utime(log, (old, old))
    assert client.start_in_background() is True
    assert os.path.getsize(log) == 0  # each start begins a fresh log
    deadline = time.monotonic() + 30
    while client.ask("status") is None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert client.ask("status") is not None


def test_a_daemon_leaves_when_idle_or_when_the_code_on_disk_changes(tmp_path: Path) -> None:
    from flx_cli.daemon.server import Daemon

    current = protocol.fingerprint()
    (tmp_path / "a.sock").touch()
    busy = Daemon(tmp_path / "a.sock", current, idle_seconds=3600)
    busy._check()
    assert busy.stopping is None
    gone = Daemon(tmp_path / "removed.sock", current, idle_seconds=3600)
    gone._check()
    assert gone.stopping == "its socket was removed"
    (tmp_path / "b.sock").touch()
    stale = Daemon(tmp_path / "b.sock", "0" * 64, idle_seconds=3600)
    stale._check()
    assert stale.stopping == "FLX's code changed"
    idle = Daemon(tmp_path / "c.sock", current, idle_seconds=0.01)
    idle._last_activity -= 1
    idle._check()
    assert idle.stopping == "idle"


@pytest.mark.skipif(os.getuid() != 0, reason="needs root to listen as another user")
def test_a_client_refuses_a_socket_another_user_listens_on(tmp_path: Path) -> None:
    from flx_cli.daemon import client

    path = str(tmp_path / "daemon.sock")
    ready, done = os.pipe(), os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover (the child)
        try:
            listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            listener.bind(path)
            os.chmod(path, 0o777)
            os.setuid(65534)  # SO_PEERCRED reports the user of listen()
            listener.listen(1)
            os.write(ready[1], b"x")
            os.read(done[0], 1)
        finally:
            os._exit(0)
    try:
        os.read(ready[0], 1)
        assert client.connect(path) is None
    finally:
        os.write(done[1], b"x")
        os.waitpid(pid, 0)
