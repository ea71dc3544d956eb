"""The retained store: latest value wins, each change is sent once, everything again after a reconnect."""

from __future__ import annotations

from passerelle.daemon.retained import RetainedStore


def changes_of(store: RetainedStore) -> list[tuple[str, bytes]]:
    changes: list[tuple[str, bytes]] = []
    store.topic_changed.connect(lambda topic, payload: changes.append((topic, payload)))
    return changes


def test_setting_the_same_payload_again_is_no_change() -> None:
    store = RetainedStore()
    changes = changes_of(store)
    store.set("t", b"1")
    assert store.take_dirty() == {"t": b"1"}
    store.set("t", b"1")
    assert not store.changed.is_set()
    assert store.take_dirty() == {}
    assert changes == [("t", b"1")]


def test_only_the_latest_value_of_a_topic_is_sent() -> None:
    store = RetainedStore()
    store.set("t", b"1")
    store.set("t", b"2")
    assert store.take_dirty() == {"t": b"2"}
    assert store.get("t") == b"2"


def test_clearing_sends_an_empty_payload_and_forgets_the_topic() -> None:
    store = RetainedStore()
    changes = changes_of(store)
    store.set("t", b"1")
    store.take_dirty()
    store.clear("t")
    assert store.changed.is_set()
    assert store.take_dirty() == {"t": b""}  # an empty retained payload deletes it on the broker
    assert store.get("t") is None and store.snapshot() == {}
    assert changes == [("t", b"1"), ("t", b"")]


def test_clearing_an_unknown_topic_sends_nothing() -> None:
    store = RetainedStore()
    changes = changes_of(store)
    store.clear("never-set")
    assert store.take_dirty() == {}
    assert not store.changed.is_set()
    assert changes == []


def test_a_failed_publication_is_put_back_but_a_newer_value_wins() -> None:
    store = RetainedStore()
    store.set("a", b"old")
    store.set("b", b"b1")
    failed = store.take_dirty()
    assert not store.changed.is_set()
    store.set("a", b"new")  # changed while the failed publication was in flight
    store.restore_dirty(failed)
    assert store.changed.is_set()
    assert store.take_dirty() == {"a": b"new", "b": b"b1"}


def test_after_a_reconnect_everything_is_sent_again_but_not_what_was_cleared() -> None:
    store = RetainedStore()
    store.set("a", b"1")
    store.set("b", b"2")
    store.clear("b")
    store.take_dirty()
    store.mark_all_dirty()
    assert store.take_dirty() == {"a": b"1"}


def test_mark_all_dirty_on_an_empty_store_wakes_nobody() -> None:
    store = RetainedStore()
    store.mark_all_dirty()
    assert not store.changed.is_set()


def test_a_failing_listener_does_not_lose_the_change() -> None:
    store = RetainedStore()

    def broken(topic: str, payload: bytes) -> None:
        raise RuntimeError("browser fan-out bug")

    store.topic_changed.connect(broken)
    store.set("t", b"1")
    assert store.get("t") == b"1"
    assert store.take_dirty() == {"t": b"1"}
    assert store.topic_changed.failures == 1
