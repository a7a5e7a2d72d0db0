"""Run the real service in a subprocess (``python -m torrent_streamer serve``) for black-box tests.

Each ``ServiceProcess`` has its own port and data dir; several can share one database and Redis.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests import support


@dataclass
class ServiceProcess:
    data_dir: Path
    env_overrides: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=support.free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.data_dir / f"serve-{self.port}.log"

    def environment(self) -> dict[str, str]:
        env = {key: value for key, value in os.environ.items() if not key.startswith("TS_")}
        env.update(
            {
                "TS_DATA_DIR": str(self.data_dir),
                "TS_SECRET_KEY": support.TEST_SECRET_KEY,
                "TS_ENCRYPTION_KEYS": support.TEST_ENCRYPTION_KEYS,
                "TS_TRUSTED_HOSTS": "127.0.0.1,localhost",
                "TS_ENGINE": "memory",
                "TS_ENGINE_ALLOW_PRIVATE_NETWORKS": "true",
                "TS_ENGINE_ENABLE_DHT": "false",
                "TS_ENGINE_ENABLE_UTP": "false",
                "TS_LOG_LEVEL": "INFO",
            }
        )
        env.update(self.env_overrides)
        return env

    def run_cli(
        self, *args: str, stdin: bytes | None = None, timeout: float = 120
    ) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            [sys.executable, "-m", "torrent_streamer", *args],
            env=self.environment(),
            input=stdin,
            capture_output=True,
            timeout=timeout,
            check=False,
        )

    def start(self, timeout: float = 60.0) -> ServiceProcess:
        self.spawn()
        self.wait_until_serving(timeout)
        return self

    def spawn(self) -> ServiceProcess:
        """Start the process without waiting (start several, then ``wait_until_serving`` each)."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "torrent_streamer", "serve", "--host", "127.0.0.1", "--port", str(self.port)],
                env=self.environment(),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        return self

    def wait_until_serving(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise AssertionError(f"service exited early:\n{self.log_tail()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    pass
                if httpx.get(f"{self.base_url}/healthz", timeout=2).status_code == 200:
                    return
            except (OSError, httpx.HTTPError):
                pass
            time.sleep(0.1)
        raise AssertionError(f"service did not start in {timeout}s:\n{self.log_tail()}")

    def log_tail(self, size: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-size:]
        except OSError:
            return ""

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)

    def kill(self) -> None:
        """``kill -9``: no shutdown hooks run."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
