"""A journal reader closed while its last read still runs in another thread (a cancelled replay: the
await is cancelled, the thread is not) waits for that read instead of closing the connection under it."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

from passerelle.daemon.journal import Journal

ROWS = 200_000


def test_close_waits_for_a_read_running_in_another_thread(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite3"
    journal = Journal(path, max_events=ROWS, max_age_seconds=3600)
    with sqlite3.connect(path) as db:
        journal.setup(db)
        db.executemany(
            "INSERT INTO journal VALUES (?, ?, 't', ?, 0)", ((n, f"id-{n}", b"x" * 64) for n in range(ROWS))
        )
    reader = journal.reader()
    reading = threading.Event()
    outcome: list[object] = []

    def read() -> None:
        reading.set()
        try:
            outcome.append(len(reader.after(0, ROWS)))
        except Exception as exc:  # what an unserialized close gave: a closed connection, or worse
            outcome.append(exc)

    thread = threading.Thread(target=read)
    thread.start()
    reading.wait()
    time.sleep(0.005)  # the query is under way
    reader.close()
    thread.join()
    assert outcome == [ROWS - 1]
