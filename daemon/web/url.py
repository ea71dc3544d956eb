"""``passerelle web url``: the console's address with its token, for the operator to open."""

from __future__ import annotations

import sys
from pathlib import Path
from urllib.parse import quote

from passerelle.daemon.config import EX_CONFIG, ConfigError, load_config
from passerelle.daemon.family import load_families
from passerelle.daemon.web.auth import TokenFileError, read_token
from passerelle.daemon.web.settings import WebSettings


def console_url(web: WebSettings, token: str) -> str:
    scheme = "https" if web.tls else "http"
    host = "127.0.0.1" if web.host in ("0.0.0.0", "::") else web.host
    host = f"[{host}]" if ":" in host else host
    return f"{scheme}://{host}:{web.port}/?token={quote(token, safe='')}"


def print_url(config_path: Path | None) -> int:
    families, _ = load_families()
    try:
        settings = load_config(config_path, families).settings
    except ConfigError as exc:
        for line in exc.problems:
            print(line, file=sys.stderr)
        return EX_CONFIG
    if not settings.web.enabled:
        print("the web console is disabled (web.enabled = false)", file=sys.stderr)
        return 1
    try:
        token = read_token(settings.web, settings.state_directory)
    except TokenFileError as exc:
        print(f"cannot read the web token: {exc}", file=sys.stderr)
        return 1
    if token is None:
        print(
            "no web token yet: the daemon creates one at its first start "
            f"in {settings.state_directory} (or set web.token)",
            file=sys.stderr,
        )
        return 1
    print(console_url(settings.web, token))
    return 0
