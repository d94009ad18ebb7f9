"""A real ``museforge studio`` server process for the tests that drive one end to end.

It runs as a subprocess on a gallery folder and a free local port, with the launch token
and the repository's models folder (or $MUSEFORGE_TEST_MODELS) in its environment; it can
be stopped, killed with any signal, and started again (on a new port) on the same gallery.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]


class StudioDidNotStart(Exception):
    """The studio exited, or did not answer in time; the message has the server's log."""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class StudioServer:
    """A ``museforge studio`` subprocess on a gallery folder; restartable on a new port."""

    def __init__(
        self,
        gallery: Path,
        log: Path,
        token: str,
        *,
        workers: int | None = None,
        start_timeout_s: float = 60,
        env: dict[str, str] | None = None,
    ) -> None:
        self.gallery, self.log, self.token = gallery, log, token
        self.extra_env = dict(env or {})
        self.workers, self.start_timeout_s = workers, start_timeout_s
        self.proc: subprocess.Popen | None = None
        self.port = 0

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def launch_url(self) -> str:
        return f"{self.base}/?token={self.token}"

    def start(self) -> float:
        """Start the server and wait until it answers; the seconds that took.

        StudioDidNotStart (with the server's log) if it exits or does not answer."""
        begun = time.monotonic()
        self.port = _free_port()
        env = {
            **os.environ,
            "MUSEFORGE_STUDIO_TOKEN": self.token,
            "MUSEFORGE_MODELS": os.environ.get("MUSEFORGE_TEST_MODELS") or str(REPO / "models"),
            "PYTHONUNBUFFERED": "1",
            **self.extra_env,
        }
        cmd = [sys.executable, "-m", "museforge", "studio", "--port", str(self.port)]
        cmd += ["--gallery", str(self.gallery)]
        if self.workers is not None:
            cmd += ["--workers", str(self.workers)]
        with self.log.open("a") as out:
            self.proc = subprocess.Popen(
                cmd, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=REPO
            )
        deadline = begun + self.start_timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.proc = None
                raise StudioDidNotStart(f"the studio exited early:\n{self.log.read_text()}")
            try:
                self.api("/api/models")
                return time.monotonic() - begun
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.1)
        self.kill()
        raise StudioDidNotStart(
            f"the studio did not answer within {self.start_timeout_s} s:\n{self.log.read_text()}"
        )

    def stop(self) -> None:
        """SIGTERM the server and wait for it (killing it after 20 s); prints the time."""
        if self.proc is None:
            return
        begun = time.monotonic()
        self.kill(signal.SIGTERM)
        print(f"studio stopped in {time.monotonic() - begun:.1f} s")

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Send ``sig`` to the server (only the process this test started) and reap it;
        SIGKILL if it has not ended 20 s later."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            os.kill(self.proc.pid, sig)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def api(self, path: str, body: dict | None = None) -> Any:
        """GET ``path`` (or POST ``body`` with the token) and decode the JSON answer."""
        data = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json", "X-Museforge-Token": self.token}
        request = urllib.request.Request(self.base + path, data=data, headers=headers)
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())
