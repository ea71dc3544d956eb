"""Plain HTTP beside the socket: the probe and its preflights, the schemas, the console and its
headers, the token traded for a cookie, the support bundle."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from passerelle.daemon import __version__
from passerelle.daemon.broker import PrivateBroker
from passerelle.testing.support import wait_until
from tests.web.helpers import TOKEN, api_url, client, free_port, request, web_config, web_daemon

ALLOWED = "https://billing.example"
DOCS = Path(__file__).resolve().parents[2] / "docs"


async def test_probe_answers_cors_and_private_network_preflights_for_allowed_origins(
    broker: PrivateBroker, tmp_path: Path
) -> None:
    port = free_port()
    async with web_daemon(web_config(broker.port, tmp_path, port, allowed_origins=[ALLOWED])):
        preflight = await request(
            port,
            "OPTIONS",
            "/api/probe",
            {
                "Origin": ALLOWED,
                "Access-Control-Request-Method": "GET",
                "Access-Control-Request-Private-Network": "true",
            },
        )
        assert preflight.status == 204
        assert preflight.headers["access-control-allow-origin"] == ALLOWED
        assert preflight.headers["access-control-allow-private-network"] == "true"
        assert "GET" in preflight.headers["access-control-allow-methods"]
        probe = await request(port, "GET", "/api/probe", {"Origin": ALLOWED})
        assert probe.status == 200
        assert probe.headers["access-control-allow-origin"] == ALLOWED
        assert probe.json() == {"service": "passerelle", "version": __version__, "token_required": True}
        foreign = await request(
            port,
            "OPTIONS",
            "/api/probe",
            {"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
        )
        assert foreign.status == 403
        assert "access-control-allow-origin" not in foreign.headers


async def test_schema_serves_the_asyncapi_document_and_the_json_schemas(
    broker: PrivateBroker, tmp_path: Path
) -> None:
    port = free_port()
    async with web_daemon(web_config(broker.port, tmp_path, port)):
        answer = await request(port, "GET", "/api/schema")
    body = answer.json()
    assert body["asyncapi"] == yaml.safe_load((DOCS / "asyncapi.yaml").read_text())
    for name, schema in body["schemas"].items():
        assert schema == json.loads((DOCS / "schema" / name).read_text())


async def test_console_trades_the_token_for_an_httponly_cookie_and_sends_csp(
    broker: PrivateBroker, tmp_path: Path
) -> None:
    port = free_port()
    async with web_daemon(web_config(broker.port, tmp_path, port)):
        entry = await request(port, "GET", f"/?token={TOKEN}")
        assert entry.status == 303 and entry.headers["location"] == "/"
        cookie = entry.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
        name_value = cookie.split(";")[0]
        page = await request(port, "GET", "/", {"Cookie": name_value})
        assert page.status == 200 and b'<script src="console.js"' in page.body
        csp = page.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in csp and "default-src 'none'" in csp and "script-src 'self'" in csp
        assert page.headers["x-frame-options"] == "DENY"
        assert page.headers["referrer-policy"] == "no-referrer"
        # Nothing the console loads comes from elsewhere.
        for asset in ("console.js", "console.css", "i18n.js"):
            text = (await request(port, "GET", f"/{asset}")).body.decode()
            assert "http://" not in text.replace("http://www.w3.org/2000/svg", "") and "https://" not in text
        assert (await request(port, "GET", "/")).status == 401
        assert (await request(port, "GET", "/?token=wrong")).status == 401
        # The cookie opens the socket too (the console's browser cannot put a header on it).
        async with client(api_url(port, token=None), additional_headers={"Cookie": name_value}) as frames:
            await frames.wait_for(lambda items: bool(items))


async def test_support_bundle_needs_the_token_and_holds_no_secret(
    broker: PrivateBroker, tmp_path: Path
) -> None:
    port = free_port()
    async with web_daemon(web_config(broker.port, tmp_path, port)):
        assert (await request(port, "GET", "/api/support-bundle")).status == 401
        assert (await request(port, "GET", "/api/probe", {"Origin": "https://evil.example"})).status == 403
        answer = await request(port, "GET", f"/api/support-bundle?token={TOKEN}")
        doctor = await request(port, "GET", f"/api/doctor?token={TOKEN}")
    assert answer.status == 200
    assert "attachment" in answer.headers["content-disposition"]
    bundle = answer.json()
    assert {"versions", "config", "health", "doctor", "logs"} <= set(bundle)
    assert bundle["versions"]["passerelle"] == __version__
    assert any("origin https://evil.example is not allowed" in r["message"] for r in bundle["logs"])
    assert TOKEN not in answer.body.decode()
    assert doctor.status == 200 and all({"name", "ok", "detail"} <= set(c) for c in doctor.json())


async def test_journal_view_gives_the_last_events_of_one_topic(broker: PrivateBroker, tmp_path: Path) -> None:
    port = free_port()
    config = web_config(
        broker.port, tmp_path, port, synthetic={"devices": [{"id": "syn", "rate": 0, "count": 20}]}
    )
    async with web_daemon(config) as daemon:
        await wait_until(
            lambda: daemon.web is not None and daemon.web.stats()["journal_events"] == 20, 10, "20"
        )
        assert (await request(port, "GET", "/api/journal?topic=synthetic")).status == 401
        answer = await request(port, "GET", f"/api/journal?topic=synthetic&token={TOKEN}")
    assert [event["data"]["seq"] for event in answer.json()] == list(range(20))
