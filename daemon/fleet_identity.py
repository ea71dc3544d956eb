"""Per-station broker identities for a fleet: one user per station, confined to ``passerelle/<station>/#``,
and read-only consumers (billing back ends) that see every station.

Renders the same policy for the three engines Passerelle is tested against (docs/fleet.md):

- Mosquitto: a dynamic-security plugin file (clients, roles, ACLs), hashed as the plugin hashes;
- NATS: an ``authorization`` block (MQTT topic ``a/b`` is subject ``a.b``), MQTT connections only;
- RabbitMQ: definitions loaded at boot (users, vhost permissions, topic permissions on ``amq.topic``).

    python -m passerelle.daemon.fleet_identity --station counter-1 --station counter-2 \
        --consumer billing --out DIR

writes the three engine files and one ``<user>.credentials.toml`` per identity (mode 0600), to be
merged into each station's configuration. Station ids double as user names, which keeps each ACL
readable and lets a broker log say which station was refused.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

BASE = "passerelle"
NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")  # the station id rule of daemon/config.py
MOSQUITTO_ITERATIONS = 101  # what mosquitto_ctrl itself writes
Role = Literal["station", "consumer"]


@dataclass(frozen=True)
class Identity:
    user: str
    password: str
    role: Role

    @property
    def topic_root(self) -> str:
        """The MQTT topic tree this identity may touch (``#`` filter below it)."""
        return f"{BASE}/{self.user}" if self.role == "station" else BASE


def identities(stations: Iterable[str], consumers: Iterable[str]) -> list[Identity]:
    """Fresh random passwords; names checked so that none can widen a topic filter."""
    out = [Identity(s, secrets.token_urlsafe(18), "station") for s in stations]
    out += [Identity(c, secrets.token_urlsafe(18), "consumer") for c in consumers]
    names = [i.user for i in out]
    for name in names:
        if not NAME.match(name):
            raise ValueError(f"{name!r}: a user name must match {NAME.pattern} (it becomes a topic level)")
    if len(set(names)) != len(names):
        raise ValueError("each station and consumer needs its own name")
    return out


# -- Mosquitto dynamic security ------------------------------------------------------------------


def _mosquitto_password(password: str) -> dict[str, Any]:
    salt = secrets.token_bytes(12)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, MOSQUITTO_ITERATIONS)
    return {
        "password": base64.b64encode(digest).decode(),
        "salt": base64.b64encode(salt).decode(),
        "iterations": MOSQUITTO_ITERATIONS,
    }


def _acl(kind: str, topic: str) -> dict[str, Any]:
    return {"acltype": kind, "topic": topic, "priority": 0, "allow": True}


def mosquitto_role(identity: Identity) -> dict[str, Any]:
    tree = f"{identity.topic_root}/#"
    acls = [
        _acl("subscribePattern", tree),
        _acl("publishClientReceive", tree),
        _acl("unsubscribePattern", tree),
    ]
    if identity.role == "station":
        acls.append(_acl("publishClientSend", tree))
    return {"rolename": f"{identity.role}-{identity.user}", "acls": acls}


def mosquitto_dynsec(members: Sequence[Identity], admin: Identity) -> dict[str, Any]:
    """The plugin's JSON file. ``admin`` may only administer the plugin (``mosquitto_ctrl``)."""
    control = "$CONTROL/dynamic-security/#"
    admin_role = {
        "rolename": "dynsec-admin",
        "acls": [_acl("publishClientSend", control), _acl("publishClientReceive", control),
                 _acl("subscribePattern", control)],
    }  # fmt: skip
    clients = [
        {"username": i.user, "roles": [{"rolename": f"{i.role}-{i.user}"}], **_mosquitto_password(i.password)}
        for i in members
    ]
    clients.append(
        {
            "username": admin.user,
            "roles": [{"rolename": "dynsec-admin"}],
            **_mosquitto_password(admin.password),
        }
    )
    return {
        "clients": clients,
        "roles": [mosquitto_role(i) for i in members] + [admin_role],
        # Deny by default, receiving included: a client sees only what one of its roles grants.
        "defaultACLAccess": {
            "publishClientSend": False,
            "publishClientReceive": False,
            "subscribe": False,
            "unsubscribe": True,
        },
    }


# -- NATS ----------------------------------------------------------------------------------------


def nats_subject(topic_filter: str) -> str:
    """MQTT filter to NATS subject: levels are tokens, ``+`` is ``*``, a trailing ``#`` is ``>``."""
    return topic_filter.replace("/", ".").replace("+", "*").replace("#", ">")


def nats_authorization(members: Sequence[Identity]) -> str:
    users = []
    for i in members:
        tree = nats_subject(f"{i.topic_root}/#")
        # An empty allow list means "anything" to NATS: a consumer is denied every subject instead.
        publish = f"allow: {json.dumps([tree])}" if i.role == "station" else 'deny: [">"]'

        # The gateway keeps QoS 1 subscriptions in JetStream consumers delivered on "$MQTT.sub.<id>"
        # subjects, which the user itself must be allowed to subscribe to (implicit only from 2.12).
        subscribe = json.dumps([nats_subject(i.topic_root), tree, "$MQTT.sub.>"])
        users.append(
            f'    {{user: "{i.user}", password: "{i.password}", allowed_connection_types: ["MQTT"],\n'
            f"     permissions: {{publish: {{{publish}}}, subscribe: {{allow: {subscribe}}}}}}}"
        )
    return "authorization {\n  users: [\n" + ",\n".join(users) + "\n  ]\n}\n"


# -- RabbitMQ ------------------------------------------------------------------------------------


def _rabbitmq_hash(password: str) -> str:
    """rabbit_password_hashing_sha256: base64(salt + sha256(salt + password)), 4-byte salt."""
    salt = secrets.token_bytes(4)
    return base64.b64encode(salt + hashlib.sha256(salt + password.encode()).digest()).decode()


def rabbitmq_definitions(members: Sequence[Identity], vhost: str = "/") -> dict[str, Any]:
    # The MQTT plugin publishes to amq.topic (routing key: "/" becomes ".") and gives each
    # subscriber a queue named mqtt-subscription-<client id>qos<n>.
    queues = "mqtt-subscription-.*"
    permissions, topic_permissions = [], []
    for i in members:
        root = re.escape(i.topic_root.replace("/", "."))
        station = i.role == "station"
        permissions.append({
            "user": i.user, "vhost": vhost, "configure": f"^{queues}$",
            "write": f"^(amq\\.topic|{queues})$" if station else f"^{queues}$",
            "read": f"^(amq\\.topic|{queues})$",
        })  # fmt: skip
        topic_permissions.append({
            "user": i.user, "vhost": vhost, "exchange": "amq.topic",
            "write": f"^{root}\\." if station else "^$", "read": f"^{root}\\.",
        })  # fmt: skip
    return {
        "users": [
            {
                "name": i.user,
                "password_hash": _rabbitmq_hash(i.password),
                "hashing_algorithm": "rabbit_password_hashing_sha256",
                "tags": [],
            }
            for i in members
        ],
        "vhosts": [{"name": vhost}],
        "permissions": permissions,
        "topic_permissions": topic_permissions,
    }


# -- files ---------------------------------------------------------------------------------------


def station_credentials(identity: Identity) -> str:
    """The ``[mqtt]`` lines a station (or consumer) adds to its configuration."""
    return f'[mqtt]\nusername = "{identity.user}"\npassword = "{identity.password}"\n'


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)


def write_all(out: Path, members: Sequence[Identity], admin: Identity) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    files = {
        out / "mosquitto-dynamic-security.json": json.dumps(mosquitto_dynsec(members, admin), indent=2),
        out / "nats-authorization.conf": nats_authorization(members),
        out / "rabbitmq-definitions.json": json.dumps(rabbitmq_definitions(members), indent=2),
    }
    files.update({out / f"{i.user}.credentials.toml": station_credentials(i) for i in (*members, admin)})
    for path, text in files.items():
        _write_private(path, text)  # every one of them holds a secret or a hash of one
    return list(files)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--station", action="append", default=[], help="station id (repeat)")
    parser.add_argument("--consumer", action="append", default=[], help="read-only consumer (repeat)")
    parser.add_argument("--admin", default="dynsec-admin", help="Mosquitto dynamic-security administrator")
    parser.add_argument("--out", type=Path, required=True, help="directory for the generated files")
    args = parser.parse_args(argv)
    members = identities(args.station, args.consumer)
    admin = Identity(args.admin, secrets.token_urlsafe(18), "consumer")
    for path in write_all(args.out, members, admin):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
