"""Where the answer to a request may go.

The daemon publishes under its own identity, so a Response Topic chosen by the requester must not
make it a confused deputy: answers go only inside the station's own ``bridge/response/`` subtree,
never to a topic with a wildcard (paho refuses to publish there, and the broker would too), and a
request that comes retained is refused, because the broker would hand it over again, and the daemon
run it again, at every reconnect.
"""

from __future__ import annotations

from passerelle.daemon.driver import RequestError
from passerelle.daemon.publisher import Request
from passerelle.daemon.topics import Topics

MQTT_TOPIC_MAX_BYTES = 65535  # a topic's length field is two bytes
MAX_CORRELATION_BYTES = 1024  # a requester's token (typically a UUID), echoed with every answer
UNROUTABLE_COMMAND = "invalid-command"  # answers to a command whose own response topic cannot exist


def _publishable(topic: str) -> bool:
    try:
        size = len(topic.encode("utf-8"))
    except UnicodeEncodeError:
        return False
    return 0 < size <= MQTT_TOPIC_MAX_BYTES and not any(c in topic for c in "+#\0")


def default_response_topic(topics: Topics, command: str) -> str:
    """``bridge/response/<command>``, or a fixed leaf when that topic would be too long to publish."""
    topic = topics.response(command)
    return topic if _publishable(topic) else topics.response(UNROUTABLE_COMMAND)


def reply_refusal(topics: Topics, request: Request) -> RequestError | None:
    """Why the request must not run, from its MQTT envelope alone (None: it may run)."""
    if request.retained:
        return RequestError(
            "retained_request",
            "retained requests are refused: the broker would deliver them again at every reconnect",
        )
    subtree = topics.response("")
    reply_to = request.response_topic
    if reply_to is not None and not (
        reply_to.startswith(subtree) and len(reply_to) > len(subtree) and _publishable(reply_to)
    ):
        return RequestError(
            "forbidden_response_topic",
            f"the Response Topic must be a topic under {subtree} without wildcards",
        )
    if request.correlation_data is not None and len(request.correlation_data) > MAX_CORRELATION_BYTES:
        return RequestError(
            "correlation_data_too_large", f"Correlation Data larger than {MAX_CORRELATION_BYTES} bytes"
        )
    return None
