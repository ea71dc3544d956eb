"""Where the PC/SC system packages put their files.

The card family checks them in ``passerelle doctor``; the card simulator (simulators/card/) runs them.
They live on this side because dependencies point one way: the simulator imports the family, never
the reverse.
"""

from __future__ import annotations

import shutil
from pathlib import Path

VPCD_DRIVER = Path("/usr/lib/pcsc/drivers/serial/libifdvpcd.so")  # vsmartcard-vpcd: the virtual reader


def find_tool(name: str) -> str | None:
    """A system tool's path; /usr/sbin is not on every user's PATH (pcscd lives there)."""
    found = shutil.which(name)
    if found:
        return found
    sbin = Path("/usr/sbin", name)
    return str(sbin) if sbin.exists() else None
