"""Bridge commands: every request gets exactly one typed answer, whatever the requester sends and
whatever the handler does."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping
from typing import Any

import pytest

from passerelle.daemon import requests
from passerelle.daemon.driver import RequestError, RequestHandler
from passerelle.daemon.publisher import Answer, Request
from passerelle.daemon.requests import BridgeCommands
from passerelle.daemon.topics import Topics

TOPICS = Topics("passerelle/st-1")


async def echo(body: Mapping[str, Any]) -> Any:
    return {"echo": dict(body)}


def commands_with(**handlers: RequestHandler) -> BridgeCommands:
    commands = BridgeCommands(TOPICS)
    commands.register(handlers)
    return commands


async def ask(commands: BridgeCommands, command: str, payload: bytes = b"", **envelope: Any) -> Answer:
    return await commands(
        Request(
            command,
            payload,
            envelope.get("response_topic"),
            envelope.get("correlation"),
            retained=envelope.get("retained", False),
        )
    )


def body_of(answer: Answer) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(answer.payload)
    return loaded


async def test_an_answer_carries_the_data_and_echoes_the_transaction() -> None:
    commands = commands_with(echo=echo)
    answer = await ask(commands, "echo", b'{"transaction": "t-1", "a": 1}')
    assert body_of(answer) == {
        "status": "ok",
        "data": {"echo": {"a": 1}},
        "error": None,
        "transaction": "t-1",
    }
    assert answer.topic == "passerelle/st-1/bridge/response/echo"
    assert answer.reply_topic is None and answer.correlation_data is None
    assert commands.results == {"ok": 1}


async def test_an_unknown_command_is_answered_with_the_known_ones() -> None:
    commands = commands_with(echo=echo)
    commands.register_lookup(lambda: {"card/reread": echo})
    answer = await ask(commands, "nope", b'{"transaction": 7}')
    body = body_of(answer)
    assert body["error"]["code"] == "unknown_command"
    assert "card/reread, echo" in body["error"]["message"]
    assert body["transaction"] == 7
    assert commands.results == {"unknown_command": 1}


async def test_a_long_unknown_command_is_cut_in_the_answer_and_the_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    commands = commands_with(echo=echo)
    command = "x" * 5000
    with caplog.at_level(logging.WARNING, logger="passerelle.daemon.requests"):
        answer = await ask(commands, command)
    assert "x" * (requests.LOG_COMMAND_CHARS + 1) not in body_of(answer)["error"]["message"]
    assert "x" * (requests.LOG_COMMAND_CHARS + 1) not in caplog.text


async def test_driver_commands_are_looked_up_at_each_request() -> None:
    offered: dict[str, RequestHandler] = {}
    commands = BridgeCommands(TOPICS)
    commands.register_lookup(lambda: offered)
    assert body_of(await ask(commands, "card/reread"))["error"]["code"] == "unknown_command"
    offered["card/reread"] = echo  # a driver started since
    assert body_of(await ask(commands, "card/reread"))["status"] == "ok"
    assert commands.commands() == ["card/reread"]


async def test_a_core_command_wins_over_a_driver_command_of_the_same_name() -> None:
    async def driver_ping(_: Mapping[str, Any]) -> Any:
        return "driver"

    async def core_ping(_: Mapping[str, Any]) -> Any:
        return "core"

    commands = commands_with(ping=core_ping)
    commands.register_lookup(lambda: {"ping": driver_ping})
    assert body_of(await ask(commands, "ping"))["data"] == "core"
    assert commands.commands() == ["ping"]


def test_a_command_registered_twice_is_a_wiring_error() -> None:
    commands = commands_with(echo=echo)
    with pytest.raises(ValueError, match="echo"):
        commands.register({"echo": echo})


async def test_a_handler_refusal_is_its_typed_error() -> None:
    async def refuse(_: Mapping[str, Any]) -> Any:
        raise RequestError("invalid_argument", "level must be one of DEBUG, INFO")

    commands = commands_with(refuse=refuse)
    body = body_of(await ask(commands, "refuse", b'{"transaction": [1, 2]}'))
    assert body["status"] == "error" and body["data"] is None
    assert body["error"] == {"code": "invalid_argument", "message": "level must be one of DEBUG, INFO"}
    assert body["transaction"] == [1, 2]


async def test_a_handler_bug_costs_one_answer_and_is_logged_with_its_cause(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def bug(_: Mapping[str, Any]) -> Any:
        raise ZeroDivisionError("secret detail")

    commands = commands_with(bug=bug)
    with caplog.at_level(logging.ERROR, logger="passerelle.daemon.requests"):
        body = body_of(await ask(commands, "bug"))
    assert body["error"] == {"code": "internal_error", "message": "ZeroDivisionError"}  # no detail out
    [record] = caplog.records
    assert record.exc_info is not None and isinstance(record.exc_info[1], ZeroDivisionError)


async def test_data_that_cannot_be_serialized_is_an_internal_error() -> None:
    async def unserializable(_: Mapping[str, Any]) -> Any:
        return {"when": object()}

    commands = commands_with(bad=unserializable)
    assert body_of(await ask(commands, "bad"))["error"]["code"] == "internal_error"
    assert commands.results == {"internal_error": 1}


async def test_a_handler_that_never_answers_times_out(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(requests, "REQUEST_TIMEOUT_SECONDS", 0.01)

    async def hang(_: Mapping[str, Any]) -> Any:
        await asyncio.Event().wait()

    commands = commands_with(hang=hang)
    assert body_of(await ask(commands, "hang"))["error"]["code"] == "timeout"


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        (b"[1]", "malformed_request"),
        (b"\xff", "malformed_request"),
        (b'{"a": NaN}', "malformed_request"),
        (b"{" * 10, "malformed_request"),
        (b" " * (70 * 1024), "payload_too_large"),
    ],
)
async def test_a_body_that_does_not_parse_never_reaches_the_handler(payload: bytes, code: str) -> None:
    called: list[object] = []

    async def handler(body: Mapping[str, Any]) -> Any:
        called.append(body)

    commands = commands_with(run=handler)
    body = body_of(await ask(commands, "run", payload))
    assert body["error"]["code"] == code and body["transaction"] is None
    assert called == []


async def test_a_retained_request_is_refused_without_running_and_answered_only_on_its_own_topic() -> None:
    called: list[object] = []

    async def restart(body: Mapping[str, Any]) -> Any:
        called.append(body)

    commands = commands_with(restart=restart)
    reply_to = TOPICS.response("mine")
    answer = await ask(
        commands, "restart", b'{"transaction": "t"}', retained=True, response_topic=reply_to, correlation=b"c"
    )
    body = body_of(answer)
    assert body["error"]["code"] == "retained_request" and body["transaction"] == "t"
    assert called == []
    assert answer.reply_topic is None and answer.correlation_data is None
    assert answer.topic == TOPICS.response("restart")


async def test_a_response_topic_in_the_station_subtree_gets_the_answer_and_the_correlation() -> None:
    commands = commands_with(echo=echo)
    reply_to = TOPICS.response("client-42/echo")
    answer = await ask(commands, "echo", response_topic=reply_to, correlation=b"c-1")
    assert body_of(answer)["status"] == "ok"
    assert answer.reply_topic == reply_to and answer.correlation_data == b"c-1"


async def test_a_response_topic_elsewhere_is_refused() -> None:
    commands = commands_with(echo=echo)
    answer = await ask(commands, "echo", response_topic="passerelle/other-station/bridge/response/x")
    assert body_of(answer)["error"]["code"] == "forbidden_response_topic"
    assert answer.reply_topic is None
    assert commands.results == {"forbidden_response_topic": 1}
