"""Bridge request/response: ``bridge/request/<command>`` → ``bridge/response/<command>``.

Every request gets exactly one response, ``{"status": "ok"|"error", "data", "error", "transaction"}``;
bad input is answered with a typed error, never with silence or a crash. A request costs at most its
own answer: nothing a requester sends (payload, retain flag, MQTT 5 properties) may raise out of here.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from pydantic import BaseModel

from passerelle.daemon.driver import RequestError, RequestHandler
from passerelle.daemon.log_limit import RateLimitedLog
from passerelle.daemon.publisher import Answer, Request
from passerelle.daemon.request_parse import parse_request
from passerelle.daemon.request_reply import default_response_topic, reply_refusal
from passerelle.daemon.topics import Topics

log = logging.getLogger(__name__)
REQUEST_TIMEOUT_SECONDS = 10.0
LOG_COMMAND_CHARS = 64  # a command name is the requester's text: log only its start


class ErrorInfo(BaseModel):
    code: str
    message: str


class Response(BaseModel):
    status: str
    data: Any = None
    error: ErrorInfo | None = None
    transaction: Any = None


class BridgeCommands:
    """The station's commands: answers each request (the publisher's and the web console's
    ``Responder``) by running the handler its command names, core commands first, then the drivers'.

    Built before the services whose commands it runs (the publisher needs it, and they need the
    publisher), which then ``register`` them.
    """

    def __init__(self, topics: Topics) -> None:
        self._core: dict[str, RequestHandler] = {}
        self._lookups: list[Callable[[], Mapping[str, RequestHandler]]] = []
        self._topics = topics
        self._log = RateLimitedLog(log)
        # Answers by result: "ok" or the error code (bounded: ours and the drivers' own codes).
        self.results: dict[str, int] = {}

    def register(self, handlers: Mapping[str, RequestHandler]) -> None:
        """Core commands; a name registered twice is a wiring bug."""
        if clash := self._core.keys() & handlers.keys():
            raise ValueError(f"commands registered twice: {', '.join(sorted(clash))}")
        self._core.update(handlers)

    def register_lookup(self, lookup: Callable[[], Mapping[str, RequestHandler]]) -> None:
        """Commands looked up at each request (drivers come and go); core commands win a clash."""
        self._lookups.append(lookup)

    def _looked_up(self) -> dict[str, RequestHandler]:
        handlers: dict[str, RequestHandler] = {}
        for lookup in self._lookups:
            handlers.update(lookup())
        return handlers

    def commands(self) -> list[str]:
        return sorted({*self._core, *self._looked_up()})

    async def __call__(self, request: Request) -> Answer:
        refusal = reply_refusal(self._topics, request)
        if refusal is None:
            payload = await self._respond(request)
        else:
            payload = self._error(request.command, refusal, _transaction_of(request.payload))
        reply_to = request.response_topic if refusal is None else None
        return Answer(
            payload=payload,
            topic=default_response_topic(self._topics, request.command),
            reply_topic=reply_to,
            correlation_data=request.correlation_data if reply_to is not None else None,
        )

    async def _respond(self, request: Request) -> bytes:
        transaction: Any = None
        try:
            body = parse_request(request.payload)
            transaction = body.pop("transaction", None)
            handler = self._core.get(request.command) or self._looked_up().get(request.command)
            if handler is None:
                raise RequestError(
                    "unknown_command",
                    f"unknown command {request.command[:LOG_COMMAND_CHARS]!r}; "
                    f"known: {', '.join(self.commands())}",
                )
            data = await _with_timeout(handler(body))
            payload = Response(status="ok", data=data, transaction=transaction).model_dump_json().encode()
        except RequestError as exc:
            return self._error(request.command, exc, transaction)
        except Exception as exc:  # a handler bug, or data that cannot be serialized, costs one answer
            failure = RequestError("internal_error", type(exc).__name__)
            return self._error(request.command, failure, transaction, cause=exc)
        self.results["ok"] = self.results.get("ok", 0) + 1
        return payload

    def _error(
        self, command: str, error: RequestError, transaction: Any, cause: BaseException | None = None
    ) -> bytes:
        """The typed error answer; ``transaction`` was already checked serializable by the parser."""
        self.results[error.code] = self.results.get(error.code, 0) + 1
        self._log.log(
            logging.ERROR if cause is not None else logging.WARNING,
            error.code,
            "request %r answered with %s: %s",
            command[:LOG_COMMAND_CHARS],
            error.code,
            error.message,
            exc_info=cause,
        )
        info = ErrorInfo(code=error.code, message=error.message)
        return Response(status="error", error=info, transaction=transaction).model_dump_json().encode()


def _transaction_of(payload: bytes) -> Any:
    """The request's transaction, to echo in a refusal, when the body parses."""
    try:
        return parse_request(payload).get("transaction")
    except RequestError:
        return None


async def _with_timeout(awaitable: Awaitable[Any]) -> Any:
    try:
        return await asyncio.wait_for(awaitable, REQUEST_TIMEOUT_SECONDS)
    except TimeoutError as exc:
        raise RequestError("timeout", f"no answer within {REQUEST_TIMEOUT_SECONDS:.0f} s") from exc
