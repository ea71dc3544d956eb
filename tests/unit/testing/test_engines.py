"""Reading a NATS cluster's raft leaders and their elections, without starting one."""

from __future__ import annotations

import time
from pathlib import Path

from passerelle.testing.engines import NatsCluster, leaders_in_report

REPORT = {
    "meta_cluster": {"name": "passerelle-test", "leader": "n2", "cluster_size": 3},
    "account_details": [
        {
            "name": "$G",
            "stream_detail": [
                {"name": "$MQTT_sess", "cluster": {"leader": "n1"}},
                {
                    "name": "$MQTT_msgs",
                    "cluster": {"leader": "n2"},
                    "consumer_detail": [
                        {"name": "billing", "cluster": {"leader": "n3"}},
                        {"name": "a_b", "cluster": {"leader": "n3"}},
                    ],
                },
                {"name": "$MQTT_rmsgs"},  # a standalone node: no cluster section
            ],
        }
    ],
}


def test_leaders_name_each_group_and_count_consumers_by_node() -> None:
    assert leaders_in_report(REPORT) == {
        "meta": "n2",
        "$MQTT_sess": "n1",
        "$MQTT_msgs": "n2",
        "$MQTT_rmsgs": "",
        "consumers@n3": "2",
    }


def _log_line(at: float, text: str) -> str:
    stamp = time.strftime("%Y/%m/%d %H:%M:%S", time.localtime(at)) + f".{int(at % 1 * 1e6):06d}"
    return f"[4242] {stamp} [INF] JetStream cluster {text}\n"


def test_elections_after_a_kill_come_from_the_surviving_nodes_logs(tmp_path: Path) -> None:
    cluster = NatsCluster(tmp_path)
    killed_at = 1_796_020_000.0
    n1, n2, n3 = cluster.nodes
    n1.log_path.write_text(  # the killed node, restarted: it reports the leaders it learns as new
        _log_line(killed_at + 3.5, "new metadata leader: n2/passerelle-test")
    )
    n2.log_path.write_text(
        _log_line(killed_at - 20, "new stream leader for '$G > $MQTT_msgs'")  # before: not this outage
        + _log_line(killed_at + 5.25, "new stream leader for '$G > $MQTT_msgs'")
        + _log_line(killed_at + 9.0, "new stream leader for '$G > $MQTT_msgs'")  # a later one
        + _log_line(killed_at + 6.5, "new consumer leader for '$G > $MQTT_msgs > billing'")
    )
    n3.log_path.write_text(_log_line(killed_at + 4.75, "new stream leader for '$G > $MQTT_sess'"))
    elections = cluster.elections_since(killed_at, killed="n1")
    assert set(elections) == {"$MQTT_msgs", "$MQTT_msgs > billing", "$MQTT_sess"}
    assert abs(elections["$MQTT_msgs"] - 5.25) < 0.01
    assert abs(elections["$MQTT_sess"] - 4.75) < 0.01
    assert abs(elections["$MQTT_msgs > billing"] - 6.5) < 0.01


def test_standalone_nodes_share_nothing_and_keep_one_replica(tmp_path: Path) -> None:
    clustered = NatsCluster(tmp_path / "c", mqtt_options="consumer_replicas: 1")
    standalone = NatsCluster(tmp_path / "s", standalone=True)
    clustered_config = clustered.config_path(clustered.nodes[0]).read_text()
    standalone_config = standalone.config_path(standalone.nodes[0]).read_text()
    assert "cluster {" in clustered_config and "stream_replicas: 3" in clustered_config
    assert "consumer_replicas: 1" in clustered_config
    assert "cluster {" not in standalone_config and "stream_replicas: 1" in standalone_config
