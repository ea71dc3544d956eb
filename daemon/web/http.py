"""Plain HTTP answers of the web endpoint: origins, CORS, security headers, static console files."""

from __future__ import annotations

import http
import json
import mimetypes
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from websockets.datastructures import Headers
from websockets.http11 import Request, Response

COOKIE_NAME = "passerelle_token"
CONSOLE_FILES = frozenset({"index.html", "login.html", "console.js", "console.css", "i18n.js", "favicon.svg"})
CONSOLE_DIR = Path(__file__).with_name("console")  # shipped in the package, beside this module
LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "[::1]"})


def query(request: Request) -> dict[str, str]:
    """The query's parameters (first value of each)."""
    return {k: v[0] for k, v in parse_qs(urlsplit(request.path).query).items()}


def route(request: Request) -> str:
    return urlsplit(request.path).path


def cookie_token(request: Request) -> str | None:
    raw = request.headers.get("Cookie")
    if not raw:
        return None
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(raw)
    except Exception:  # a malformed cookie header is just "no cookie"
        return None
    morsel = jar.get(COOKIE_NAME)
    return morsel.value if morsel is not None else None


class Origins:
    """Which pages may use the endpoint: listed origins, the console's own, and clients with no Origin.

    The console's own origin is this server as reached through a loopback name or the configured host;
    a page from any other site (including one that rebinds its DNS name to 127.0.0.1) is refused."""

    def __init__(self, allowed: list[str], host: str, port: int, tls: bool) -> None:
        scheme = "https" if tls else "http"
        names = set(LOOPBACK_NAMES) | {host if ":" not in host else f"[{host}]"}
        self.own = {f"{scheme}://{name}:{port}" for name in names}
        self.allowed = set(allowed)
        self.port = port

    def allowed_origin(self, request: Request) -> bool:
        origin = request.headers.get("Origin")
        return origin is None or origin in self.own or origin in self.allowed


def security_headers(headers: Headers, csp_connect: str) -> None:
    headers["Content-Security-Policy"] = (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        f"connect-src 'self' {csp_connect}; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
    )
    headers["X-Frame-Options"] = "DENY"
    headers["X-Content-Type-Options"] = "nosniff"
    headers["Referrer-Policy"] = "no-referrer"  # the first URL carries the token


def respond(
    status: http.HTTPStatus,
    body: bytes,
    content_type: str = "text/plain; charset=utf-8",
    extra: dict[str, str] | None = None,
) -> Response:
    headers = Headers()
    headers["Content-Type"] = content_type
    headers["Content-Length"] = str(len(body))
    headers["Connection"] = "close"
    headers["Cache-Control"] = "no-store"
    headers["X-Content-Type-Options"] = "nosniff"
    for key, value in (extra or {}).items():
        headers[key] = value
    return Response(status.value, status.phrase, headers, body)


def respond_json(status: http.HTTPStatus, value: Any, extra: dict[str, str] | None = None) -> Response:
    return respond(status, json.dumps(value, ensure_ascii=False).encode(), "application/json", extra)


def cors_headers(request: Request) -> dict[str, str]:
    origin = request.headers.get("Origin")
    if origin is None:
        return {}
    return {"Access-Control-Allow-Origin": origin, "Vary": "Origin"}


def preflight(request: Request) -> Response:
    """CORS preflight, with Chrome's Local Network Access (private network) opt-in."""
    extra = cors_headers(request)
    extra["Access-Control-Allow-Methods"] = "GET, OPTIONS"
    asked = request.headers.get("Access-Control-Request-Headers")
    if asked:
        extra["Access-Control-Allow-Headers"] = asked
    if request.headers.get("Access-Control-Request-Private-Network", "").lower() == "true":
        extra["Access-Control-Allow-Private-Network"] = "true"
    extra["Access-Control-Max-Age"] = "600"
    return respond(http.HTTPStatus.NO_CONTENT, b"", extra=extra)


def console_file(name: str, csp_connect: str) -> Response | None:
    if name not in CONSOLE_FILES:
        return None
    body = (CONSOLE_DIR / name).read_bytes()
    content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    if content_type.startswith("text/") or content_type.endswith("javascript"):
        content_type += "; charset=utf-8"
    response = respond(http.HTTPStatus.OK, body, content_type)
    security_headers(response.headers, csp_connect)
    return response


def set_cookie(token: str, tls: bool) -> str:
    secure = "; Secure" if tls else ""
    return f"{COOKIE_NAME}={token}; Path=/; HttpOnly; SameSite=Strict{secure}"
