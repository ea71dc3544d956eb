"""A private Mosquitto on a free loopback port, for the demo and the tests.

Never touches a system broker (which may hold port 1883): its own config, port and directory.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType


class BrokerError(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_open(host: str, port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.2):
        return True
    return False


class PrivateBroker:
    """``with PrivateBroker() as broker:`` … ``broker.port``. ``restart()`` keeps the port and, with
    ``persistence=True``, the broker's stored sessions and retained messages."""

    def __init__(
        self,
        port: int | None = None,
        *,
        persistence: bool = False,
        workdir: Path | None = None,
        extra_config: list[str] | None = None,
    ) -> None:
        self.host = "127.0.0.1"
        self.port = port or free_port()
        self.persistence = persistence
        self._own_dir = workdir is None
        self.workdir = workdir or Path(tempfile.mkdtemp(prefix="passerelle-mosquitto-"))
        self.process: subprocess.Popen[bytes] | None = None
        self.extra_config = list(extra_config or [])  # e.g. password_file / acl_file lines

    @staticmethod
    def binary() -> str:
        path = shutil.which("mosquitto") or (
            "/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None
        )
        if path is None:
            raise BrokerError("mosquitto is not installed (apt-get install mosquitto)")
        return path

    def _write_config(self) -> Path:
        conf = self.workdir / "mosquitto.conf"
        lines = [
            f"listener {self.port} 127.0.0.1",
            "allow_anonymous true"
            if not any(line.startswith("password_file") for line in self.extra_config)
            else "",
            f"persistence {'true' if self.persistence else 'false'}",
            f"persistence_location {self.workdir}/",
            "max_queued_messages 1000000",
            "max_inflight_messages 0",
            "log_dest none",
            # Without it, mosquitto's PUBACKs wait on Nagle's algorithm behind delayed TCP ACKs: about
            # one event interval of added latency at low rates. Recommended for production too.
            "set_tcp_nodelay true",
        ]
        lines += self.extra_config
        if os.geteuid() == 0:
            # As root, mosquitto drops to the "mosquitto" user, which cannot write our private
            # directory: persistence would then fail silently.
            lines.append("user root")
        conf.write_text("\n".join(lines) + "\n")
        return conf

    def start(self, timeout: float = 10.0) -> None:
        if self.process is not None and self.process.poll() is None:
            return
        conf = self._write_config()
        self.process = subprocess.Popen(
            [self.binary(), "-c", str(conf)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            # Its own process group: a Ctrl-C in the demo's terminal reaches the demo, which stops the
            # daemon (goodbye published) and only then this broker, rather than killing it mid-goodbye.
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                err = self.process.stderr.read().decode(errors="replace") if self.process.stderr else ""
                raise BrokerError(f"mosquitto exited at start ({self.process.returncode}): {err.strip()}")
            if port_open(self.host, self.port):
                return
            time.sleep(0.02)
        self.stop()
        raise BrokerError(f"mosquitto did not listen on {self.host}:{self.port} within {timeout} s")

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()  # SIGTERM: mosquitto saves persistence on a clean stop
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stderr:
            self.process.stderr.close()
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def close(self) -> None:
        self.stop()
        if self._own_dir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> PrivateBroker:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
