"""Which node the fleet bench kills: the leader of the gateway's $MQTT_msgs, or the node leading fewest."""

from __future__ import annotations

from pathlib import Path

from bench.fleet import node_to_kill
from passerelle.testing.engines import NatsCluster


def test_the_worst_case_kills_the_leader_of_mqtt_msgs(tmp_path: Path) -> None:
    cluster = NatsCluster(tmp_path)
    leaders = {"meta": "n1", "$MQTT_msgs": "n3", "$MQTT_rmsgs": "n1", "$MQTT_sess": "n3"}
    assert node_to_kill(cluster, leaders, "msgs-leader") == 2
    assert node_to_kill(cluster, leaders, "least-leader") == 1  # n2 leads none of the four
    assert node_to_kill(cluster, leaders, "n1") == 0
    assert node_to_kill(cluster, {}, "msgs-leader") == 0  # no node answered: the first
