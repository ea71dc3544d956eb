"""Totality of the request parser: whatever bytes come, the result is a JSON object whose every part
can be echoed back in an answer, or a typed RequestError; nothing else escapes."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from passerelle.daemon.driver import RequestError
from passerelle.daemon.request_parse import parse_request
from passerelle.daemon.requests import Response

# JSON-shaped text with the pieces that broke the answer before: surrogate escapes, long numbers,
# deep nesting, non-standard constants.
_tokens = st.sampled_from(
    ['"\\ud800"', '"\\udfff"', '"\\ud83d\\ude00"', "1e999", "-" + "9" * 50, "NaN", "Infinity", "[", "]",
     "{", "}", '"k":', ",", "null", "true", '"é"', " ", "0.5", "12345678901234567890"]
)  # fmt: skip
_json_like = st.lists(_tokens, max_size=200).map(lambda parts: ('{"transaction":' + "".join(parts)).encode())


def _answer_or_refusal(payload: bytes) -> None:
    refused_with: str | None
    try:
        body = parse_request(payload)
    except RequestError as exc:
        refused_with = exc.code
    else:
        refused_with = None
    if refused_with is not None:
        assert refused_with in ("malformed_request", "payload_too_large")
        return
    transaction = body.pop("transaction", None)
    answer = Response(status="ok", data=body, transaction=transaction).model_dump_json()
    assert json.loads(answer)["transaction"] == transaction


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=300))
def test_any_bytes(payload: bytes) -> None:
    _answer_or_refusal(payload)


@settings(max_examples=1000, deadline=None)
@given(_json_like)
def test_json_like_text(payload: bytes) -> None:
    _answer_or_refusal(payload)


@settings(max_examples=200, deadline=None)
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(),
        lambda c: st.lists(c) | st.dictionaries(st.text(), c),
    )
)
def test_valid_json_round_trips_or_is_refused(value: object) -> None:
    _answer_or_refusal(json.dumps({"transaction": value}).encode())
