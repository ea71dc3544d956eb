"""bridge/health: the status, the problems worst first, and the retained summary."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from passerelle.daemon.outbox_damage import Incident
from passerelle.daemon.retained import RetainedStore
from passerelle.daemon.services.health import BridgeHealth
from passerelle.daemon.services.state import CoreState
from passerelle.daemon.supervisor import DriverStatus
from passerelle.daemon.topics import Topics
from tests.unit.daemon.services.core_state import core_state, metrics

TOPICS = Topics("passerelle/st-1")


class Web:
    """The web endpoint as health sees it."""

    def __init__(self, problem: str | None = None) -> None:
        self.problem = problem

    def stats(self) -> dict[str, Any]:
        return {"listening": self.problem is None, "clients": 2}


def make(tmp_path: Path, web: Web | None = None) -> tuple[BridgeHealth, CoreState, RetainedStore]:
    state = core_state(tmp_path)
    state.broker.connected = True
    retained = RetainedStore()
    health = BridgeHealth(topics=TOPICS, retained=retained, state=state, metrics=metrics(), web=web)
    return health, state, retained


def test_a_connected_station_with_nothing_wrong_is_green(tmp_path: Path) -> None:
    health, _, _ = make(tmp_path)
    report = health.report()
    assert report["status"] == "green" and report["problems"] == []
    assert report["outbox"]["oldest_age_seconds"] == 0.0
    assert "web" not in report


def test_a_broker_not_yet_reached_is_yellow_and_says_events_wait(tmp_path: Path) -> None:
    health, state, _ = make(tmp_path)
    state.broker.connected = False
    assert health.problems() == (
        "yellow",
        ["broker not connected (connecting): events are stored and will be published on reconnect"],
    )
    state.broker.last_error = "connection refused"
    assert "(connection refused)" in health.problems()[1][0]


def test_red_problems_come_first_and_win_over_yellow_ones(tmp_path: Path) -> None:
    health, state, _ = make(tmp_path)
    state.broker.connected = False  # yellow
    state.supervisor.disable("card", "invalid configuration")  # yellow
    state.outbox.full = True  # red
    state.outbox.count = 100
    status, problems = health.problems()
    assert status == "red"
    assert problems[0] == "outbox full (100 events); policy refuse"
    assert problems[1].startswith("broker not connected")
    assert problems[2] == "driver card disabled: invalid configuration"


def test_a_disk_refusing_writes_and_unacknowledged_damage_are_red(tmp_path: Path) -> None:
    health, state, _ = make(tmp_path)
    state.outbox.writes.error = "No space left on device"
    state.outbox.damage.incidents = [Incident(detected_at="2026-11-30T06:00:00Z", reason="checksum")]
    status, problems = health.problems()
    assert status == "red"
    assert "outbox cannot write to its disk: No space left on device" in problems[0]
    assert "checksum" in problems[1] and "passerelle outbox-damage ack" in problems[1]
    outbox = health.report()["outbox"]
    assert outbox["write_error"] == "No space left on device"
    assert len(outbox["damage"]) == 1


@pytest.mark.parametrize("state_name", ["backoff", "disabled"])
def test_a_driver_down_is_yellow_but_one_starting_or_running_is_not(tmp_path: Path, state_name: str) -> None:
    health, state, _ = make(tmp_path)
    state.supervisor.status["scanner/desk"] = DriverStatus("scanner/desk", state="running")
    state.supervisor.status["card/pcsc"] = DriverStatus("card/pcsc", state="starting")
    assert health.problems() == ("green", [])
    state.supervisor.status["cpap/sd"] = DriverStatus("cpap/sd", state=state_name, last_error="OSError: gone")
    assert health.problems() == ("yellow", [f"driver cpap/sd {state_name}: OSError: gone"])


def test_quarantine_metrics_and_web_problems_are_yellow(tmp_path: Path) -> None:
    web = Web(problem="web endpoint 127.0.0.1:8099: address in use")
    health, state, _ = make(tmp_path, web)
    state.quarantine.count, state.quarantine.last_reason = 2, "broker refused it"
    health.metrics.problem = "metrics endpoint 127.0.0.1:9101: address in use"
    status, problems = health.problems()
    assert status == "yellow"
    assert problems == [
        "2 events quarantined (see passerelle outbox list); latest: broker refused it",
        "metrics endpoint 127.0.0.1:9101: address in use",
        "web endpoint 127.0.0.1:8099: address in use",
    ]
    assert health.report()["web"] == {"listening": False, "clients": 2}


def test_the_report_shows_the_figures_of_every_part(tmp_path: Path) -> None:
    health, state, _ = make(tmp_path)
    results = state.request_results
    assert isinstance(results, dict)
    results["ok"] = 3  # the live mapping the commands count in: read at each report
    state.broker.answers_failed = 1
    state.delivery.refused_too_large = 4
    state.outbox.oldest_created_at = time.time() - 60
    report = health.report()
    assert report["requests"] == {"results": {"ok": 3}, "answers_unpublished": 1}
    assert report["outbox"]["too_large"] == 4
    assert 59 <= report["outbox"]["oldest_age_seconds"] < 70
    assert report["sd_notify_dropped"] == 0


def test_the_retained_summary_leaves_out_the_details(tmp_path: Path) -> None:
    health, state, retained = make(tmp_path, Web())
    state.supervisor.status["scanner/desk"] = DriverStatus("scanner/desk", state="running")
    health.publish()
    payload = retained.get(TOPICS.health)
    assert payload is not None
    summary = json.loads(payload)
    assert set(summary) == {"status", "problems", "broker", "outbox", "sd_notify_dropped"}
    assert set(summary["outbox"]) == {
        "full",
        "refused",
        "dropped",
        "write_error",
        "unstored",
        "damage",
        "quarantined",
    }
    assert payload == json.dumps(summary, sort_keys=True).encode()


def test_publishing_an_unchanged_health_sends_nothing_new(tmp_path: Path) -> None:
    health, state, retained = make(tmp_path)
    health.publish(True)  # listeners of any signal: what the signal carries is ignored
    retained.take_dirty()
    health.publish()
    assert retained.take_dirty() == {}
    state.broker.connected = False
    health.publish()
    assert TOPICS.health in retained.take_dirty()
