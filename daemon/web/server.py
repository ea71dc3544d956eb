"""The loopback endpoint: ``/api`` (WebSocket), ``/api/probe``, ``/api/schema`` and the console.

Built on the ``websockets`` asyncio server, whose ``process_request`` answers plain HTTP before any
upgrade: refusals (401, 403) happen before a WebSocket exists, and the probe, the schemas and the
console's static files need no second HTTP stack. Measured in a bare Python 3.11: importing
``aiohttp.web`` adds 16.1 MB of resident memory, ``websockets.asyncio.server`` 4.8 MB; in the daemon,
whose budget is 80 MB, turning the endpoint on costs 1.1 MB (docs/performance.md).
"""

from __future__ import annotations

import asyncio
import http
import json
import logging
import re
import socket
import ssl
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request
from websockets.http11 import Response as HttpResponse

from passerelle.daemon import __version__
from passerelle.daemon.journal import Journal
from passerelle.daemon.publisher import ONLINE, Responder
from passerelle.daemon.publisher import Request as BridgeRequest
from passerelle.daemon.requests import ErrorInfo, Response
from passerelle.daemon.retained import RetainedStore
from passerelle.daemon.web import http as web_http
from passerelle.daemon.web.auth import TokenFileError, TokenGate, load_or_create_token
from passerelle.daemon.web.hub import Client, Hub, frame
from passerelle.daemon.web.settings import WebSettings

log = logging.getLogger(__name__)

MAX_FRAME = 64 * 1024  # a bigger client frame closes the connection with 1009
WRITE_LIMIT = 64 * 1024  # bytes buffered in the daemon per client before its writer waits
SEND_BUFFER = 128 * 1024  # kernel send buffer per client: bounds what a client that does not read costs
REPLAY_PAGE = 500
JOURNAL_VIEW_LIMIT = 2000
MAX_PENDING_REQUESTS = 32  # per client; more are answered "too_many_requests"
COMMAND = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


class WebServer:
    def __init__(
        self,
        settings: WebSettings,
        *,
        state_directory: Path,
        base_topic: str,
        retained: RetainedStore,
        router: Responder,
        journal: Journal | None,
        schema: Callable[[], dict[str, Any]],
        support: Callable[[str], Awaitable[Any]],
    ) -> None:
        self.settings = settings
        self.state_directory = state_directory
        self.retained = retained
        self.router = router
        self.journal = journal
        self.base_topic = base_topic
        self.hub = Hub(base_topic)
        self._schema = schema
        self._schema_cache: dict[str, Any] | None = None
        self._support = support  # "doctor" or "bundle" -> JSON-able value
        self.origins = web_http.Origins(settings.allowed_origins, settings.host, settings.port, settings.tls)
        self.gate: TokenGate | None = None
        self.problem: str | None = None
        self.port: int | None = None
        self.refused_origin_total = 0
        self._server: Server | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    # -- lifecycle -------------------------------------------------------------------------------

    async def start(self) -> None:
        """Listen; a failure is reported in health and the logs, and the daemon goes on without it."""
        s = self.settings
        where = f"{s.host}:{s.port}"
        if not s.loopback and not s.tls:
            log.warning(
                "web endpoint %s is NOT loopback and NOT encrypted (web.insecure_non_loopback): "
                "anyone on the network can read the token and the events",
                where,
            )
        # The token and the WebSocket URL are secrets: keep the library's request logs out of ours.
        logging.getLogger("websockets").setLevel(logging.WARNING)
        try:
            self.gate = TokenGate(load_or_create_token(s, self.state_directory))
            self._server = await serve(
                self._connection,
                s.host,
                s.port,
                process_request=self._http,
                max_size=MAX_FRAME,
                max_queue=16,
                write_limit=WRITE_LIMIT,
                compression=None,  # per-client deflate state costs memory and CPU for small frames
                server_header=None,
                ssl=self._tls_context(),
            )
        except (OSError, TokenFileError, ssl.SSLError) as exc:
            detail = getattr(exc, "strerror", None) or str(exc)
            self.problem = f"web endpoint {where}: {detail}"
            log.error("%s; running without the browser endpoint", self.problem)
            return
        self.port = self._server.sockets[0].getsockname()[1]
        log.info(
            "web console on %s://%s:%d/ (passerelle web url prints it with its token)",
            "https" if s.tls else "http",
            s.host,
            self.port,
        )

    def _tls_context(self) -> ssl.SSLContext | None:
        s = self.settings
        if s.tls_cert_file is None or s.tls_key_file is None:
            return None
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(s.tls_cert_file, s.tls_key_file)
        return context

    async def stop(self) -> None:
        if self._server is None:
            return
        self._server.close()  # closes every connection with 1001 (going away)
        await self._server.wait_closed()
        self._server = None

    def stats(self) -> dict[str, Any]:
        hub = self.hub.stats
        return {
            "listening": self._server is not None,
            "clients": len(self.hub.clients),
            "connections": hub.connections_total,
            "frames": hub.frames_total,
            "closed_slow": hub.closed_slow_total,
            "refused_token": self.gate.refused_total if self.gate else 0,
            "refused_origin": self.refused_origin_total,
            "journal_events": self.journal.count if self.journal else 0,
        }

    # -- plain HTTP ------------------------------------------------------------------------------

    async def _http(self, connection: ServerConnection, request: Request) -> HttpResponse | None:
        path = web_http.route(request)
        method = request.method
        if method not in ("GET", "OPTIONS"):
            return web_http.respond(http.HTTPStatus.METHOD_NOT_ALLOWED, b"GET only\n")
        if not self.origins.allowed_origin(request):
            self.refused_origin_total += 1
            log.warning("web request refused: origin %s is not allowed", request.headers.get("Origin"))
            return web_http.respond(http.HTTPStatus.FORBIDDEN, b"origin not allowed\n")
        if method == "OPTIONS":
            return web_http.preflight(request)
        cors = web_http.cors_headers(request)
        if path == "/api":
            if await self._authorized(request):
                return None  # go on with the WebSocket upgrade
            return web_http.respond(http.HTTPStatus.UNAUTHORIZED, b"missing or wrong token\n")
        if path == "/api/probe":
            probe = {"service": "passerelle", "version": __version__, "token_required": True}
            return web_http.respond_json(http.HTTPStatus.OK, probe, cors)
        if path == "/api/schema":
            if self._schema_cache is None:
                self._schema_cache = self._schema()
            return web_http.respond_json(http.HTTPStatus.OK, self._schema_cache, cors)
        if path == "/api/journal":
            if not await self._authorized(request):
                return web_http.respond(http.HTTPStatus.UNAUTHORIZED, b"missing or wrong token\n")
            topic = web_http.query(request).get("topic", "")
            return web_http.respond(
                http.HTTPStatus.OK, await self._journal_on(topic), "application/json", cors
            )
        if path in ("/api/doctor", "/api/support-bundle"):
            if not await self._authorized(request):
                return web_http.respond(http.HTTPStatus.UNAUTHORIZED, b"missing or wrong token\n")
            kind = "doctor" if path == "/api/doctor" else "bundle"
            extra = {**cors}
            if kind == "bundle":
                extra["Content-Disposition"] = 'attachment; filename="passerelle-support.json"'
            return web_http.respond_json(http.HTTPStatus.OK, await self._support(kind), extra)
        if path == "/":
            return await self._console_entry(request)
        response = web_http.console_file(path.lstrip("/"), self._connect_sources())
        return response or web_http.respond(http.HTTPStatus.NOT_FOUND, b"not found\n")

    async def _authorized(self, request: Request) -> bool:
        assert self.gate is not None
        if self.gate.valid(web_http.query(request).get("token") or web_http.cookie_token(request)):
            return True
        await self.gate.refuse()
        return False

    async def _console_entry(self, request: Request) -> HttpResponse:
        """``/?token=…`` trades the token for a cookie and drops it from the address bar and history."""
        assert self.gate is not None
        token = web_http.query(request).get("token")
        if token is not None:
            if self.gate.valid(token):
                return web_http.respond(
                    http.HTTPStatus.SEE_OTHER,
                    b"",
                    extra={"Location": "/", "Set-Cookie": web_http.set_cookie(token, self.settings.tls)},
                )
            await self.gate.refuse()
        elif self.gate.valid(web_http.cookie_token(request)):
            page = web_http.console_file("index.html", self._connect_sources())
            assert page is not None
            return page
        page = web_http.console_file("login.html", self._connect_sources())
        assert page is not None
        return HttpResponse(http.HTTPStatus.UNAUTHORIZED.value, "Unauthorized", page.headers, page.body)

    async def _journal_on(self, topic: str) -> bytes:
        """``[payload, …]`` of the journal's last events on one topic (the console's observance view
        shows periods imported before it was opened)."""
        if self.journal is None or not topic:
            return b"[]"
        reader = await asyncio.to_thread(self.journal.reader)
        try:
            payloads = await asyncio.to_thread(reader.latest_on, self.hub.full(topic), JOURNAL_VIEW_LIMIT)
        finally:
            await asyncio.to_thread(reader.close)
        return b"[" + b",".join(payloads) + b"]"

    def _connect_sources(self) -> str:
        port = self.port or self.settings.port
        scheme = "wss" if self.settings.tls else "ws"
        return " ".join(sorted(f"{scheme}://{name}:{port}" for name in web_http.LOOPBACK_NAMES))

    # -- WebSocket -------------------------------------------------------------------------------

    async def _connection(self, ws: ServerConnection) -> None:
        raw = ws.transport.get_extra_info("socket")
        if raw is not None:
            raw.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER)
        since = web_http.query(ws.request).get("since") if ws.request is not None else None
        client = Client(ws, self.settings.client_queue, self.hub.stats)
        client.replaying = since is not None and self.journal is not None
        self.hub.stats.connections_total += 1
        self.hub.clients.add(client)
        tasks = [asyncio.create_task(client.write_loop(), name="web-writer")]
        try:
            client.offer(frame("bridge/state", ONLINE))
            for topic, payload in self.retained.snapshot().items():
                client.offer(frame(self.hub.relative(topic), payload))
            if client.replaying and since is not None:
                tasks.append(asyncio.create_task(self._replay(client, since), name="web-replay"))
            async for message in ws:
                self._on_frame(client, message)
        except ConnectionClosed:
            pass
        finally:
            self.hub.clients.discard(client)
            client.closed = True
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _replay(self, client: Client, since: str) -> None:
        assert self.journal is not None
        reader = await asyncio.to_thread(self.journal.reader)
        try:
            start = await asyncio.to_thread(reader.position, since)
            if start is None:
                log.warning(
                    "web client asked to resume after an event no longer in the journal: "
                    "replaying the whole journal"
                )
                start = 0
            last = start
            while not client.closed:
                rows = await asyncio.to_thread(reader.after, last, REPLAY_PAGE)
                if not rows:
                    break
                for row in rows:
                    await client.put_replayed(frame(self.hub.relative(row.topic), row.payload))
                last = rows[-1].seq
            client.end_replay(last)
        except Exception as exc:  # the journal unreadable: this client goes on live, and it is said
            log.error("web replay failed (%s): the client continues with live events", exc)
            client.end_replay(0)
        finally:
            await asyncio.to_thread(reader.close)

    def _on_frame(self, client: Client, message: str | bytes) -> None:
        try:
            body = json.loads(message)
            topic = body["topic"]
            payload = body.get("payload", {})
        except (ValueError, TypeError, KeyError):
            self._error(client, "malformed_frame", 'expected {"topic": "bridge/request/<cmd>", "payload": …}')
            return
        command = topic.removeprefix("bridge/request/") if isinstance(topic, str) else ""
        if command == topic or not COMMAND.match(command):
            self._error(client, "unknown_topic", "clients may only send bridge/request/<command>")
            return
        if client.requests >= MAX_PENDING_REQUESTS:
            self._error(client, "too_many_requests", f"more than {MAX_PENDING_REQUESTS} requests in progress")
            return
        client.requests += 1
        task = asyncio.create_task(self._answer(client, command, json.dumps(payload).encode()))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _answer(self, client: Client, command: str, payload: bytes) -> None:
        try:
            answer = await self.router(BridgeRequest(command, payload, None, None))
        finally:
            client.requests -= 1
        # The answer's own topic (bridge/response/<command>, or .../invalid-command), below the base.
        client.offer(frame(answer.topic.removeprefix(f"{self.base_topic}/"), answer.payload))

    @staticmethod
    def _error(client: Client, code: str, message: str) -> None:
        error = Response(status="error", error=ErrorInfo(code=code, message=message))
        client.offer(frame("bridge/error", error.model_dump_json().encode()))
