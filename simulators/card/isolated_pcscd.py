"""A private pcscd with one vpcd bi-slot reader, never touching the system's readers.

pcscd's own socket path is compiled in (/run/pcscd/pcscd.comm), so it runs in a private mount
namespace where a temporary directory is bound over /run/pcscd (or over /run when that directory does
not exist). Hot-plug drivers are hidden by pointing PCSCLITE_HP_DROPDIR at an empty directory, and the
only serial reader is a vpcd entry on free ports. Clients reach it through PCSCLITE_CSOCK_NAME, which
libpcsclite reads once per process: use one socket path per process (restart the same instance).

pcscd also gets a network namespace of its own (loopback only), because vpcd listens on every
interface and would let anyone on the network insert a card; the virtual cards reach it through Unix
sockets relayed inside that namespace (vpcd_bridge.py).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from passerelle.drivers.card.system_tools import VPCD_DRIVER, find_tool
from passerelle.simulators.card.vpcd_bridge import BRIDGED_PORTS, bridge_socket

FRIENDLY_NAME = "Passerelle Virtual PCD"


class PcscdUnavailableError(RuntimeError):
    """pcscd, vpcd or unshare is missing, or the private pcscd did not come up."""


def missing_tools() -> list[str]:
    """What this machine lacks to run an isolated pcscd with vpcd (empty when all is there)."""
    missing = [tool for tool in ("pcscd", "unshare", "mount") if find_tool(tool) is None]
    if not VPCD_DRIVER.exists():
        missing.append(str(VPCD_DRIVER))
    return missing


def free_port_pair() -> int:
    """A port P such that P and P+1 are free here: vpcd listens on both in pcscd's own namespace, where
    any port is free, but a pair free here is also distinct from every other instance's."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("", 0))
            port = int(probe.getsockname()[1])
        if port >= 65535:
            continue
        try:
            with socket.socket() as a, socket.socket() as b:
                a.bind(("", port))
                b.bind(("", port + 1))
        except OSError:
            continue
        return port
    raise PcscdUnavailableError("no free pair of TCP ports for vpcd")


def _pcscd_binary() -> str:
    found = find_tool("pcscd")
    if found is None:
        raise PcscdUnavailableError("pcscd is not installed (apt-get install pcscd)")
    return found


@dataclass
class IsolatedPcscd:
    root: Path
    port: int = field(default_factory=free_port_pair)
    process: subprocess.Popen[bytes] | None = None

    @property
    def ports(self) -> tuple[int, int]:
        """vpcd's ports for slots 0 and 1."""
        return (self.port, self.port + 1)

    @property
    def socket_path(self) -> Path:
        return self._run_dir / "pcscd.comm"

    @property
    def client_env(self) -> dict[str, str]:
        return {"PCSCLITE_CSOCK_NAME": str(self.socket_path)}

    @property
    def _run_dir(self) -> Path:
        # bind over /run/pcscd when it exists, else over /run with a pcscd/ child
        return self.root / "run" / "pcscd" if not Path("/run/pcscd").is_dir() else self.root / "run"

    def _prepare(self) -> None:
        self._run_dir.mkdir(parents=True, exist_ok=True)
        (self.root / "conf").mkdir(parents=True, exist_ok=True)
        (self.root / "empty").mkdir(parents=True, exist_ok=True)
        (self.root / "conf" / "vpcd").write_text(
            f'FRIENDLYNAME "{FRIENDLY_NAME}"\n'
            f"DEVICENAME /dev/null:0x{self.port:04X}\n"
            f"LIBPATH {VPCD_DRIVER}\n"
            f"CHANNELID 0x{self.port:04X}\n"
        )

    def start(self, timeout: float = 10.0) -> None:
        if self.process is not None and self.process.poll() is None:
            return
        if not VPCD_DRIVER.exists():
            raise PcscdUnavailableError(
                f"vpcd is not installed ({VPCD_DRIVER}; apt-get install vsmartcard-vpcd)"
            )
        self._prepare()
        # root/run goes over /run/pcscd, or over /run (see _run_dir)
        target = "/run/pcscd" if Path("/run/pcscd").is_dir() else "/run"
        namespaces = ["-m", "-n"] if os.geteuid() == 0 else ["-r", "-m", "-n"]
        # The bridge runs beside pcscd in its namespaces; it dies with the process group (see stop).
        script = (
            'mount --bind "$1" "$2" || exit 1; '
            '"$5" -m passerelle.simulators.card.vpcd_bridge "$6" "$7" "$8" & exec "$3" -f -c "$4"'
        )
        self.socket_path.unlink(missing_ok=True)
        for port in self.ports:
            bridge_socket(self.root, port).unlink(missing_ok=True)
            BRIDGED_PORTS[port] = bridge_socket(self.root, port)
        log = (self.root / "pcscd.log").open("ab")
        self.process = subprocess.Popen(
            [
                "unshare",
                *namespaces,
                "sh",
                "-c",
                script,
                "sh",
                str(self.root / "run"),
                target,
                _pcscd_binary(),
                str(self.root / "conf"),
                sys.executable,
                str(self.root),
                *(str(port) for port in self.ports),
            ],
            env={**os.environ, "PCSCLITE_HP_DROPDIR": str(self.root / "empty")},
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise PcscdUnavailableError(
                    f"pcscd exited with {self.process.returncode}; see {self.root}/pcscd.log"
                )
            if (
                self.socket_path.exists()
                and all(bridge_socket(self.root, port).exists() for port in self.ports)
                and all(_port_listening(self.process.pid, port) for port in self.ports)
            ):
                return
            time.sleep(0.02)
        self.stop()
        raise PcscdUnavailableError(
            f"pcscd did not come up within {timeout:.0f} s; see {self.root}/pcscd.log"
        )

    def stop(self, kill: bool = False) -> None:
        """Stop pcscd (SIGKILL with kill=True, to simulate a crash)."""
        process, self.process = self.process, None
        if process is None:
            return
        if process.poll() is None:
            # The whole group (its own session): pcscd and the bridge beside it.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL if kill else signal.SIGTERM)
            try:
                process.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(5)
        self.socket_path.unlink(missing_ok=True)

    def __enter__(self) -> IsolatedPcscd:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _port_listening(pid: int, port: int) -> bool:
    """Whether something listens on the port in the network namespace of ``pid``, read from /proc so
    that vpcd never sees a probe connection (it would take it for a card)."""
    wanted = f":{port:04X}"
    for table in (f"/proc/{pid}/net/tcp", f"/proc/{pid}/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) > 3 and fields[1].endswith(wanted) and fields[3] == "0A":  # 0A = LISTEN
                return True
    return False
