"""Where an answer may go: only inside the station's own bridge/response/ subtree."""

from __future__ import annotations

import pytest

from passerelle.daemon.publisher import Request
from passerelle.daemon.request_reply import (
    MAX_CORRELATION_BYTES,
    MQTT_TOPIC_MAX_BYTES,
    UNROUTABLE_COMMAND,
    default_response_topic,
    reply_refusal,
)
from passerelle.daemon.topics import Topics

TOPICS = Topics("passerelle/st-1")
SUBTREE = TOPICS.response("")


def request(
    response_topic: str | None = None, correlation: bytes | None = None, retained: bool = False
) -> Request:
    return Request("ping", b"", response_topic, correlation, retained=retained)


def test_the_default_response_topic_is_the_commands_own() -> None:
    assert default_response_topic(TOPICS, "card/reread") == "passerelle/st-1/bridge/response/card/reread"


@pytest.mark.parametrize(
    "command",
    ["a+b", "#", "nul\0", "lone\udc80surrogate", "x" * MQTT_TOPIC_MAX_BYTES],
)
def test_a_command_whose_response_topic_cannot_exist_is_answered_on_a_fixed_leaf(command: str) -> None:
    assert default_response_topic(TOPICS, command) == TOPICS.response(UNROUTABLE_COMMAND)


def test_the_longest_publishable_response_topic_is_kept() -> None:
    command = "x" * (MQTT_TOPIC_MAX_BYTES - len(SUBTREE.encode()))
    assert default_response_topic(TOPICS, command) == TOPICS.response(command)
    assert default_response_topic(TOPICS, command + "x") == TOPICS.response(UNROUTABLE_COMMAND)


def test_a_plain_request_may_run() -> None:
    assert reply_refusal(TOPICS, request()) is None


@pytest.mark.parametrize(
    "reply_to",
    [
        SUBTREE,  # the subtree itself is no answer topic
        SUBTREE[:-1],
        "passerelle/st-10/bridge/response/x",  # a station whose name starts like ours
        SUBTREE + "a/+",
        SUBTREE + "#",
        "other/topic",
        "",
    ],
)
def test_a_response_topic_outside_the_subtree_or_with_a_wildcard_is_refused(reply_to: str) -> None:
    refusal = reply_refusal(TOPICS, request(response_topic=reply_to))
    assert refusal is not None and refusal.code == "forbidden_response_topic"


def test_correlation_data_is_bounded() -> None:
    assert reply_refusal(TOPICS, request(correlation=b"x" * MAX_CORRELATION_BYTES)) is None
    refusal = reply_refusal(TOPICS, request(correlation=b"x" * (MAX_CORRELATION_BYTES + 1)))
    assert refusal is not None and refusal.code == "correlation_data_too_large"


def test_retained_is_refused_before_anything_else() -> None:
    refusal = reply_refusal(TOPICS, request(response_topic="elsewhere", retained=True))
    assert refusal is not None and refusal.code == "retained_request"
