"""Bridge request/response: ``bridge/request/<command>`` → ``bridge/response/<command>``.

Every request gets exactly one response, ``{"status": "ok"|"error", "data", "error", "transaction"}``;
bad input is answered with a typed error, never with silence or a crash.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from pydantic import BaseModel

from daemon.driver import RequestError, RequestHandler
from daemon.publisher import Request

log = logging.getLogger(__name__)
MAX_REQUEST_BYTES = 64 * 1024
REQUEST_TIMEOUT_SECONDS = 10.0


class ErrorInfo(BaseModel):
    code: str
    message: str


class Response(BaseModel):
    status: str
    data: Any = None
    error: ErrorInfo | None = None
    transaction: Any = None


class RequestRouter:
    def __init__(
        self,
        core_handlers: Mapping[str, RequestHandler],
        driver_handlers: Callable[[], Mapping[str, RequestHandler]],
    ) -> None:
        self._core = dict(core_handlers)
        self._drivers = driver_handlers  # looked up per request: drivers come and go

    def commands(self) -> list[str]:
        return sorted({*self._core, *self._drivers()})

    async def __call__(self, request: Request) -> bytes:
        transaction: Any = None
        try:
            body = self._parse(request.payload)
            transaction = body.pop("transaction", None)
            handler = self._core.get(request.command) or self._drivers().get(request.command)
            if handler is None:
                raise RequestError(
                    "unknown_command",
                    f"unknown command {request.command!r}; known: {', '.join(self.commands())}",
                )
            data = await _with_timeout(handler(body))
            response = Response(status="ok", data=data, transaction=transaction)
        except RequestError as exc:
            response = Response(
                status="error", error=ErrorInfo(code=exc.code, message=exc.message), transaction=transaction
            )
        except Exception as exc:  # a handler bug must not take the bridge down
            log.exception("request %s failed", request.command)
            response = Response(
                status="error",
                error=ErrorInfo(code="internal_error", message=type(exc).__name__),
                transaction=transaction,
            )
        return response.model_dump_json().encode()

    @staticmethod
    def _parse(payload: bytes) -> dict[str, Any]:
        if len(payload) > MAX_REQUEST_BYTES:
            raise RequestError("payload_too_large", f"request larger than {MAX_REQUEST_BYTES} bytes")
        if not payload.strip():
            return {}
        try:
            body = json.loads(payload)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise RequestError("malformed_request", f"request is not valid JSON: {exc}") from exc
        if not isinstance(body, dict):
            raise RequestError("malformed_request", "request must be a JSON object")
        return body


async def _with_timeout(awaitable: Awaitable[Any]) -> Any:
    try:
        return await asyncio.wait_for(awaitable, REQUEST_TIMEOUT_SECONDS)
    except TimeoutError as exc:
        raise RequestError("timeout", f"no answer within {REQUEST_TIMEOUT_SECONDS:.0f} s") from exc
