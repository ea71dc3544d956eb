"""With a certificate the endpoint serves wss:// and https://, and its cookie is Secure."""

from __future__ import annotations

import asyncio
import http.client
import ssl
import subprocess
from pathlib import Path

from passerelle.daemon.broker import PrivateBroker
from tests.web.helpers import TOKEN, client, free_port, web_config, web_daemon


def self_signed(directory: Path) -> tuple[Path, Path]:
    cert, key = directory / "web.pem", directory / "web.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


def https_get(
    port: int, path: str, context: ssl.SSLContext, cookie: str | None = None
) -> tuple[int, dict[str, str]]:
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=10)
    try:
        conn.request("GET", path, headers={"Cookie": cookie} if cookie else {})
        response = conn.getresponse()
        response.read()
        return response.status, dict(response.getheaders())
    finally:
        conn.close()


async def test_tls_serves_wss_and_https_with_a_secure_cookie(broker: PrivateBroker, tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    port = free_port()
    config = web_config(broker.port, tmp_path / "state", port, tls_cert_file=str(cert), tls_key_file=str(key))
    context = ssl.create_default_context(cafile=str(cert))
    async with web_daemon(config), client(f"wss://127.0.0.1:{port}/api?token={TOKEN}", ssl=context) as frames:
        await frames.wait_for(lambda items: bool(items))
        status, headers = await asyncio.to_thread(https_get, port, f"/?token={TOKEN}", context)
        assert status == 303 and "Secure" in headers["Set-Cookie"]
        cookie = headers["Set-Cookie"].split(";")[0]
        _, headers = await asyncio.to_thread(https_get, port, "/", context, cookie)
        assert "wss://127.0.0.1:" in headers["Content-Security-Policy"]
