"""A request body is untrusted bytes: parse it into a JSON object whose every part the daemon can
handle and echo back, or refuse it with a typed ``RequestError``.

``json.loads`` alone accepts what later breaks the answer (a lone surrogate escape cannot be
serialized, nesting deep enough ends in RecursionError, a 5000-digit integer raises ValueError),
and non-standard constants (NaN, Infinity). Every such input is a ``malformed_request`` here.
"""

from __future__ import annotations

import json
from typing import Any

from passerelle.daemon.driver import RequestError

MAX_REQUEST_BYTES = 64 * 1024
MAX_DEPTH = 32  # nesting levels of arrays and objects; requests are flat in practice
MAX_NUMBER_CHARS = 40  # enough for any 64-bit integer or double written out


def _malformed(message: str) -> RequestError:
    return RequestError("malformed_request", message)


def _bounded_int(text: str) -> int:
    if len(text) > MAX_NUMBER_CHARS:
        raise _malformed(f"a number is longer than {MAX_NUMBER_CHARS} characters")
    return int(text)


def _bounded_float(text: str) -> float:
    if len(text) > MAX_NUMBER_CHARS:
        raise _malformed(f"a number is longer than {MAX_NUMBER_CHARS} characters")
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise _malformed("a number is out of the range of a double")
    return value


def _no_constant(name: str) -> Any:
    raise _malformed(f"{name} is not JSON")


def _check_tree(body: dict[str, Any]) -> None:
    """Depth, walked over the containers only and iteratively (recursion would be the next stack
    overflow); lone surrogates, found by one encoding of the whole tree in C."""
    pending: list[tuple[dict[str, Any] | list[Any], int]] = [(body, 1)]
    while pending:
        container, depth = pending.pop()
        if depth > MAX_DEPTH:
            raise _malformed(f"request nested deeper than {MAX_DEPTH} levels")
        children = container.values() if isinstance(container, dict) else container
        pending.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    try:
        json.dumps(body, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as exc:
        raise _malformed("request contains a lone surrogate escape (not a character)") from exc


def parse_request(payload: bytes) -> dict[str, Any]:
    """The request's JSON object; an empty payload is an empty object."""
    if len(payload) > MAX_REQUEST_BYTES:
        raise RequestError("payload_too_large", f"request larger than {MAX_REQUEST_BYTES} bytes")
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _malformed(f"request is not UTF-8 (byte {exc.start})") from exc
    if not text.strip():
        return {}
    try:
        body = json.loads(
            text, parse_int=_bounded_int, parse_float=_bounded_float, parse_constant=_no_constant
        )
    except json.JSONDecodeError as exc:
        raise _malformed(f"request is not valid JSON: {exc}") from exc
    except RecursionError as exc:
        raise _malformed(f"request nested deeper than {MAX_DEPTH} levels") from exc
    if not isinstance(body, dict):
        raise _malformed("request must be a JSON object")
    _check_tree(body)
    return body
