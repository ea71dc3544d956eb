"""``passerelle doctor`` checks for the card family."""

from __future__ import annotations

from pathlib import Path

from passerelle.daemon.family import DoctorCheck
from passerelle.drivers.card.atr import SMARTCARD_LIST
from passerelle.drivers.card.config import CardSection
from passerelle.drivers.card.system_tools import VPCD_DRIVER, find_tool

POLKIT_RULE = Path("/etc/polkit-1/rules.d/60-passerelle-pcsc.rules")


def checks(section: CardSection | None) -> list[DoctorCheck]:
    found: list[DoctorCheck] = []
    pcscd = find_tool("pcscd")
    found.append(
        DoctorCheck("pcscd installed", pcscd is not None, pcscd or "pcscd not found", "apt-get install pcscd")
    )
    found.append(
        DoctorCheck(
            "vpcd installed (simulator, demo)",
            VPCD_DRIVER.exists(),
            str(VPCD_DRIVER) if VPCD_DRIVER.exists() else "vpcd driver not found",
            "apt-get install vsmartcard-vpcd",
        )
    )
    found.append(
        DoctorCheck(
            "pcsc-tools card list (labels of unknown cards)",
            SMARTCARD_LIST.exists(),
            str(SMARTCARD_LIST) if SMARTCARD_LIST.exists() else "smartcard_list.txt not found",
            "apt-get install pcsc-tools",
        )
    )
    found.append(_service_check(section))
    found.append(
        DoctorCheck(
            "polkit rule for the passerelle user",
            POLKIT_RULE.exists(),
            str(POLKIT_RULE) if POLKIT_RULE.exists() else "no rule: pcscd refuses a system service user",
            f"install systemd/polkit/60-passerelle-pcsc.rules as {POLKIT_RULE}",
        )
    )
    return found


def _service_check(section: CardSection | None) -> DoctorCheck:
    socket = section.devices[0].pcsc_socket if section and section.devices else None
    try:
        from passerelle.drivers.card.pcsc_api import ScardApi, bind_socket
        from passerelle.drivers.card.snapshot import take_snapshot

        bind_socket(str(socket) if socket is not None else None)
        slots = take_snapshot(ScardApi())
    except Exception as exc:
        return DoctorCheck(
            "pcscd reachable",
            False,
            f"{type(exc).__name__}: {exc}",
            "apt-get install pcscd && systemctl enable --now pcscd.socket",
        )
    readers = sorted({slot.reader for slot in slots})
    return DoctorCheck("pcscd reachable", True, f"{len(readers)} reader(s): {', '.join(readers) or 'none'}")
