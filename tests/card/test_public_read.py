"""Opt-in public data reads against real pcscd + vpcd: data, NIR modes, bad cards, never powering off."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from typing import Any

import pytest

from passerelle.daemon.driver import RequestError
from passerelle.drivers.card.atr import CardType
from passerelle.drivers.card.pcsc_api import STATE_PRESENT
from passerelle.drivers.card.public_read import PublicDataReader, ReadResult
from passerelle.simulators.card.virtual_cards import (
    AID_VITALE,
    ATRS,
    MF,
    SAMPLE_BENEFICIARIES,
    SAMPLE_HOLDER,
    FileCard,
    make_card,
    tlv,
    vitale2_files,
)
from passerelle.testing.support import wait_until
from tests.card.conftest import READER_ID, SLOT_NAMES, Slots, run_driver, wait_slots_state
from tests.card.helpers import card_data, card_event, read_of

VITALE2_ATR = bytes.fromhex(ATRS["vitale2"])
READ_VITALE = {"read_public_data": {"card_types": ["vitale2"]}}


@pytest.mark.parametrize("mode", ["redact", "hash", "clear"])
async def test_vitale2_with_three_beneficiaries_per_nir_mode(slots: Slots, mode: str) -> None:
    config: dict[str, Any] = {**READ_VITALE, "nir_mode": mode}
    if mode == "hash":
        config["nir_salt"] = "station-salt"
    async with run_driver(config) as running:
        slots.insert(make_card("vitale2", beneficiaries=3), slot=0)
        data = read_of(await running.collector.wait_for(card_data(slot=0)))
    assert data.status == "ok", data.error
    assert data.nir_mode == mode
    assert [(b.last_name, b.first_name) for b in data.beneficiaries] == [
        (b.last_name, b.first_name) for b in SAMPLE_BENEFICIARIES
    ]
    assert data.beneficiaries[0].birth_date == "1984-03-12"
    assert all(b.nir_valid for b in data.beneficiaries)
    for read, sample in zip(data.beneficiaries, SAMPLE_BENEFICIARIES, strict=True):
        if mode == "redact":
            assert (read.nir, read.nir_hash) == (None, None)
            assert sample.nir not in data.model_dump_json()
        elif mode == "hash":
            expected = hmac.new(b"station-salt", sample.nir.encode(), hashlib.sha256).hexdigest()
            assert (read.nir, read.nir_hash) == (None, expected)
            assert sample.nir not in data.model_dump_json()
        else:
            assert (read.nir, read.nir_hash) == (sample.nir, None)


async def test_off_by_default(slots: Slots) -> None:
    async with run_driver() as running:
        card = slots.insert(make_card("vitale2"), slot=0)
        await running.collector.wait_for(card_event("inserted", slot=0))
        slots.insert(make_card("cps3"), slot=1)
        await running.collector.wait_for(card_event("inserted", slot=1))
        assert not [i for i in running.collector.items if card_data()(i)]
        assert card.card.apdus == []
        with pytest.raises(RequestError) as refused:
            await running.driver.request_handlers()["card-read"]({"reader_id": READER_ID, "slot": 0})
        assert refused.value.code == "not_enabled"


async def test_cpx_holder_read_with_our_encoding(slots: Slots) -> None:
    async with run_driver({"read_public_data": {"readers": ["passerelle-*"]}}) as running:
        slots.insert(make_card("cps4"), slot=1)
        data = read_of(await running.collector.wait_for(card_data(slot=1)))
    assert data.status == "ok"
    assert data.card_type is CardType.CPS4
    assert data.holder is not None
    assert (data.holder.national_id, data.holder.last_name) == (SAMPLE_HOLDER.national_id, "DURAND")


def _connect_shared(reader: str) -> tuple[int, int]:
    """A connection of "the SESAM-Vitale software": it keeps the card powered while it lasts."""
    from smartcard import scard

    _, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    rc, card, _ = scard.SCardConnect(
        context, reader, scard.SCARD_SHARE_SHARED, scard.SCARD_PROTOCOL_T0 | scard.SCARD_PROTOCOL_T1
    )
    assert rc == 0, hex(rc)
    return context, card


def _release(context: int, card: int) -> None:
    from smartcard import scard

    scard.SCardDisconnect(card, scard.SCARD_LEAVE_CARD)
    scard.SCardReleaseContext(context)


def _raw_read_then_disconnect(reader: str, disposition: int) -> None:
    from smartcard import scard

    _, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    rc, card, protocol = scard.SCardConnect(
        context, reader, scard.SCARD_SHARE_SHARED, scard.SCARD_PROTOCOL_T0 | scard.SCARD_PROTOCOL_T1
    )
    assert rc == 0, hex(rc)
    scard.SCardBeginTransaction(card)
    scard.SCardTransmit(card, protocol, list(bytes.fromhex("00A40000023F00")))
    scard.SCardEndTransaction(card, scard.SCARD_LEAVE_CARD)
    scard.SCardDisconnect(card, disposition)
    scard.SCardReleaseContext(context)


async def _our_read_in_thread() -> ReadResult | None:
    return await asyncio.to_thread(PublicDataReader().read, SLOT_NAMES[0], CardType.VITALE2)


async def _raw_read_in_thread(disposition: int) -> ReadResult | None:
    await asyncio.to_thread(_raw_read_then_disconnect, SLOT_NAMES[0], disposition)
    return None


@pytest.mark.parametrize("who", ["our reader", "a careless client (UNPOWER)", "a careless client (RESET)"])
async def test_read_never_powers_off_or_resets_the_card(slots: Slots, who: str) -> None:
    """pcscd powers an idle card down by itself; a connection held by another application (as the
    certified software does) keeps it powered, so any power-off or reset seen after a read comes from
    the read's own disposition. Our reader leaves none; the careless variants show the emulator would
    catch one."""
    from smartcard import scard

    card = FileCard(atr=VITALE2_ATR, files=vitale2_files(SAMPLE_BENEFICIARIES), delay=0.2)
    inserted = slots.insert(card, slot=0)
    # pcscd powers the card up at insertion, then down when idle: start from there.
    await wait_until(lambda: inserted.controls.power_off >= 1, 5.0, "pcscd's idle power-down")
    await asyncio.to_thread(wait_slots_state, STATE_PRESENT, (0,))
    before = (inserted.controls.power_off, inserted.controls.reset)
    if who == "our reader":
        reading: asyncio.Task[ReadResult | None] = asyncio.create_task(_our_read_in_thread())
    else:
        disposition = scard.SCARD_UNPOWER_CARD if "UNPOWER" in who else scard.SCARD_RESET_CARD
        reading = asyncio.create_task(_raw_read_in_thread(disposition))
    # Once the read is inside its transaction, the other application connects and stays.
    await wait_until(lambda: len(card.apdus) >= 1, 5.0, "read started")
    held = await asyncio.to_thread(_connect_shared, SLOT_NAMES[0])
    try:
        result = await reading
        polls = inserted.controls.get_atr
        await wait_until(lambda: inserted.controls.get_atr >= polls + 3, 5.0, "three more pcscd polls")
        after = (inserted.controls.power_off, inserted.controls.reset)
    finally:
        await asyncio.to_thread(_release, *held)
    if who == "our reader":
        assert result is not None and result.status == "ok"
        assert len(result.beneficiaries) == 3
        assert after == before  # zero power-off, zero reset
    elif "UNPOWER" in who:
        assert after[0] == before[0] + 1
    else:
        assert after[1] == before[1] + 1


@pytest.mark.parametrize("shape", ["get_response_chain", "wrong_le"])
async def test_61xx_and_6cxx_answers(slots: Slots, shape: str) -> None:
    files = vitale2_files(SAMPLE_BENEFICIARIES)
    card = FileCard(
        atr=VITALE2_ATR,
        files=files,
        chain=16 if shape == "get_response_chain" else 0,
        strict_le=shape == "wrong_le",
    )
    inserted = slots.insert(card, slot=0)
    async with run_driver(READ_VITALE) as running:
        data = read_of(await running.collector.wait_for(card_data(slot=0)))
    assert data.status == "ok", data.error
    assert len(data.beneficiaries) == 3
    instructions = [apdu[1] for apdu in inserted.card.apdus]
    if shape == "get_response_chain":
        assert instructions.count(0xC0) >= 4  # GET RESPONSE rounds
    else:
        assert instructions.count(0xB0) == 4  # each READ BINARY sent twice: Le 00, then Le = xx


@pytest.mark.parametrize(
    ("name", "files"),
    [
        ("truncated template", {MF: bytes.fromhex("65 10 80 02 41 42"), AID_VITALE: b""}),
        ("no template", {MF: tlv(0x70, b"\x01"), AID_VITALE: b""}),
        ("template without names", {MF: tlv(0x65, tlv(0x82, b"19840312")), AID_VITALE: b""}),
        ("non-ascii name", {MF: tlv(0x65, tlv(0x80, b"\xff\xfe") + tlv(0x81, b"A")), AID_VITALE: b""}),
    ],
)
async def test_malformed_tlv_is_a_typed_error(slots: Slots, name: str, files: dict[bytes, bytes]) -> None:
    slots.insert(FileCard(atr=VITALE2_ATR, files=files), slot=0)
    async with run_driver(READ_VITALE) as running:
        data = read_of(await running.collector.wait_for(card_data(slot=0)))
        assert data.status == "error"
        assert data.error is not None and "MalformedData" in data.error
        # the driver keeps going
        slots.insert(make_card("cps3"), slot=1)
        await running.collector.wait_for(card_event("inserted", slot=1))


async def test_apdu_errors_are_reported(slots: Slots) -> None:
    slots.insert(make_card("error"), slot=0)
    async with run_driver(READ_VITALE) as running:
        data = read_of(await running.collector.wait_for(card_data(slot=0)))
    assert data.status == "error"
    assert data.error == "SELECT MF: status 6F00"


async def test_slow_card_times_out_and_driver_keeps_running(slots: Slots) -> None:
    slow = FileCard(atr=VITALE2_ATR, files=vitale2_files(SAMPLE_BENEFICIARIES), delay=1.5)
    slots.insert(slow, slot=0)
    async with run_driver({**READ_VITALE, "read_timeout_s": 0.3}) as running:
        data = read_of(await running.collector.wait_for(card_data(slot=0)))
        assert data.status == "timeout"
        slots.insert(make_card("cps4"), slot=1)
        await running.collector.wait_for(card_event("inserted", slot=1, card_type=CardType.CPS4))


async def test_card_in_use_by_another_application_is_skipped(slots: Slots) -> None:
    inserted = slots.insert(make_card("vitale2"), slot=0)
    async with run_driver() as running:
        await running.collector.wait_for(card_event("inserted", slot=0))
        # The SESAM-Vitale software connects to the card.
        context, other = _connect_shared(SLOT_NAMES[0])
        try:
            apdus_before = len(inserted.card.apdus)
            result = await asyncio.to_thread(PublicDataReader().read, SLOT_NAMES[0], CardType.VITALE2)
            assert result.status == "in_use"
            assert len(inserted.card.apdus) == apdus_before
        finally:
            await asyncio.to_thread(_release, context, other)


async def test_read_request_command(slots: Slots) -> None:
    async with run_driver({**READ_VITALE, "nir_mode": "clear"}) as running:
        slots.insert(make_card("vitale2", beneficiaries=1), slot=0)
        await running.collector.wait_for(card_data(slot=0))
        handler = running.driver.request_handlers()["card-read"]
        answer = await handler({"reader_id": READER_ID})
        assert [entry["status"] for entry in answer] == ["ok"]
        assert answer[0]["beneficiaries"][0]["nir"] == SAMPLE_BENEFICIARIES[0].nir
        for request, code in (
            ({"reader_id": "nope"}, "not_found"),
            ({"reader_id": READER_ID, "slot": 1}, "no_card"),
        ):
            with pytest.raises(RequestError) as error:
                await handler(request)
            assert error.value.code == code
