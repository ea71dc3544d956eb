"""Neither the token nor anything a client puts in a URL reaches the daemon's log, even at DEBUG."""

from __future__ import annotations

from pathlib import Path

from passerelle.daemon.broker import PrivateBroker
from passerelle.testing.support import DaemonProcess
from tests.web.helpers import TOKEN, api_url, client, free_port, refused_status, request, web_config


async def test_tokens_and_urls_stay_out_of_the_log(broker: PrivateBroker, tmp_path: Path) -> None:
    port = free_port()
    config = web_config(broker.port, tmp_path / "state", port)
    config["logging"] = {"level": "DEBUG", "format": "json"}
    daemon = DaemonProcess(config, tmp_path / "daemon")
    daemon.start()
    await daemon.wait_ready()
    async with client(api_url(port, since="0190f0e0-0000-7000-8000-000000000000")) as frames:
        await frames.wait_for(lambda items: bool(items))
    assert await refused_status(api_url(port, token="guessed-secret-1")) == 401
    assert (await request(port, "GET", f"/?token={TOKEN}")).status == 303
    assert await daemon.stop() == 0
    log = daemon.log_path.read_text()
    assert "web console on http://127.0.0.1" in log
    for secret in (TOKEN, "guessed-secret-1", "token="):
        assert secret not in log
