"""NIR checks and protection; configuration rules."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from pydantic import ValidationError

from passerelle.drivers.card.atr import CardType
from passerelle.drivers.card.config import CardSection, NirMode, PublicDataPolicy
from passerelle.drivers.card.nir import nir_key_ok, protect
from passerelle.simulators.card.virtual_cards import SAMPLE_BENEFICIARIES


def test_sample_nirs_have_valid_keys_and_a_changed_digit_breaks_it() -> None:
    for person in SAMPLE_BENEFICIARIES:
        assert nir_key_ok(person.nir)
        broken = person.nir[:3] + str((int(person.nir[3]) + 1) % 10) + person.nir[4:]
        assert not nir_key_ok(broken)


def test_corsica_departments() -> None:
    body = "185072A012345"
    key = 97 - int(body.replace("2A", "19")) % 97
    assert nir_key_ok(f"{body}{key:02d}")
    assert not nir_key_ok("ABCDEFGHIJKLMNO")


def test_protect_modes() -> None:
    nir = SAMPLE_BENEFICIARIES[0].nir
    assert protect(nir, NirMode.REDACT, None) == (None, None)
    assert protect(nir, NirMode.CLEAR, None) == (nir, None)
    expected = hmac.new(b"s", nir.encode(), hashlib.sha256).hexdigest()
    assert protect(nir, NirMode.HASH, "s") == (None, expected)
    assert protect(nir, NirMode.HASH, "t")[1] != expected
    with pytest.raises(ValueError, match="salt"):
        protect(nir, NirMode.HASH, None)


def test_defaults_are_private() -> None:
    section = CardSection()
    assert section.nir_mode is NirMode.REDACT
    assert not section.read_public_data.allows("any-reader", CardType.VITALE2)


def test_hash_mode_needs_a_salt() -> None:
    with pytest.raises(ValidationError, match="nir_salt"):
        CardSection.model_validate({"nir_mode": "hash"})
    assert "s3cret" not in repr(CardSection.model_validate({"nir_mode": "hash", "nir_salt": "s3cret"}))


def test_policy_by_reader_pattern_or_card_type() -> None:
    policy = PublicDataPolicy(readers=["kapelse-*"], card_types=[CardType.CPS4])
    assert policy.allows("kapelse-kap-link2-1234", CardType.VITALE2)
    assert not policy.allows("ingenico-leo", CardType.VITALE2)
    assert policy.allows("ingenico-leo", CardType.CPS4)
    assert not policy.allows("kapelse-kap-link2-1234", CardType.VITALE1)  # nothing public to read


def test_one_pcscd_per_process() -> None:
    with pytest.raises(ValidationError):
        CardSection.model_validate({"devices": [{"name": "a"}, {"name": "b"}]})
