"""The journal: ``since=`` replays every later event still kept, in order, then live, with no gap and no
repeat at the seam; it lives in the outbox database and its writer keeps it within its bounds."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from passerelle.daemon.broker import PrivateBroker
from passerelle.daemon.journal import COUNT_SLACK
from passerelle.testing.support import wait_until
from tests.web.helpers import (
    TOKEN,
    api_url,
    client,
    free_port,
    request,
    synthetic_seqs,
    web_config,
    web_daemon,
)


async def test_since_replays_then_goes_live_without_gap_or_repeat(
    broker: PrivateBroker, tmp_path: Path
) -> None:
    port = free_port()
    config = web_config(broker.port, tmp_path, port, synthetic={"devices": [{"id": "syn", "rate": 400}]})
    async with web_daemon(config), client(api_url(port)) as first:
        await first.wait_for(lambda _: len(synthetic_seqs(first)) >= 50)
        resume_after = first.topic("synthetic")[10]
        # The second client resumes while events keep coming: the seam falls in the middle of traffic.
        async with client(api_url(port, since=resume_after["event_id"])) as resumed:
            target = synthetic_seqs(first)[-1] + 800
            await resumed.wait_for(lambda _: target in synthetic_seqs(resumed), timeout=20)
        seqs = synthetic_seqs(resumed)
        expected_start = resume_after["data"]["seq"] + 1
        assert seqs[: target - expected_start + 1] == list(range(expected_start, target + 1))
        assert len(seqs) == len(set(seqs))
        # Retained state still came first.
        assert resumed.items[0]["topic"] == "bridge/state"


async def test_events_stay_replayable_after_their_puback(broker: PrivateBroker, tmp_path: Path) -> None:
    port = free_port()
    config = web_config(
        broker.port, tmp_path, port, synthetic={"devices": [{"id": "syn", "rate": 0, "count": 300}]}
    )
    async with web_daemon(config) as daemon:
        journal = daemon.web.journal if daemon.web else None
        assert journal is not None
        # Every event acknowledged by the broker and gone from the outbox, but still in the journal.
        await wait_until(lambda: journal.count == 300 and daemon.outbox.count == 0, 20, "300 delivered")
        history = (await request(port, "GET", f"/api/journal?topic=synthetic&token={TOKEN}")).json()
        assert [event["data"]["seq"] for event in history] == list(range(300))
        async with client(api_url(port, since=history[0]["event_id"])) as resumed:
            await resumed.wait_for(lambda _: len(synthetic_seqs(resumed)) == 299)
        assert synthetic_seqs(resumed) == list(range(1, 300))


async def test_the_journal_is_a_table_of_the_outbox_kept_within_its_bound(
    broker: PrivateBroker, tmp_path: Path
) -> None:
    port = free_port()
    config = web_config(
        broker.port,
        tmp_path,
        port,
        journal_max_events=500,
        synthetic={"devices": [{"id": "syn", "rate": 0, "count": 3000}]},
    )
    async with web_daemon(config) as daemon:
        journal = daemon.web.journal if daemon.web else None
        assert journal is not None
        await wait_until(lambda: journal.count + journal.pruned_total == 3000, 30, "3000 journaled")
        assert 500 <= journal.count <= 500 + COUNT_SLACK  # pruned by the writer, in steps
    assert count_rows(daemon.settings.outbox_path) == journal.count


def count_rows(database: Path) -> int:
    with sqlite3.connect(database) as db:
        count: int = db.execute("SELECT COUNT(*) FROM journal").fetchone()[0]
        return count
