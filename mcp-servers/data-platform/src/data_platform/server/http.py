"""`serve --http HOST:PORT`: the MCP server over streamable HTTP, beside stdio.

One process serves every HTTP session with one server, one lifespan and so one `AppState`:
the SDK's session manager enters the lifespan once for the process and hands its state to
each session, so concurrent clients share the project's registry (and its locks) as the
tools of one stdio client share it between concurrent calls.

Guards, in front of the SDK's app (its session ids and Host check stay as they are):
- Origin: a browser page may only call from a loopback origin or the bound host's own; any
  other Origin gets 403 (the spec's DNS-rebinding rule). Clients that are not browsers send none.
- Bearer token (`DATA_PLATFORM_HTTP_TOKEN`): required to listen beyond loopback; when set, a
  request without `Authorization: Bearer <token>` gets a bare 401, compared in constant time.
  The token is a secret of the settings: the log filter masks it like a password.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import signal
import socket
from collections.abc import Iterable
from urllib.parse import urlsplit

from mcp.server.mcpserver import MCPServer
from mcp.server.transport_security import TransportSecuritySettings
from starlette.datastructures import Headers
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from data_platform.config import Settings
from data_platform.errors import InputError

log = logging.getLogger("data_platform.http")

MCP_PATH = "/mcp"
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
# Seconds open streams get to end at shutdown before they are cut (a client's GET stream
# stays open as long as its session: without a bound, SIGTERM would wait for every client).
GRACEFUL_SHUTDOWN_S = 3


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 and `localhost`: addresses no other machine can reach."""
    name = host.strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def parse_address(text: str) -> tuple[str, int]:
    """`HOST:PORT` or `[IPv6]:PORT` -> (host, port)."""
    host, sep, port_text = text.strip().rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise InputError(
            f"--http wants HOST:PORT, got {text!r}.",
            hint="Examples: --http 127.0.0.1:8765, --http [::1]:8765, --http 0.0.0.0:8765 (needs a token).",
        )
    return host, int(port_text)


def http_token(settings: Settings, host: str) -> str | None:
    """The token requests must carry, or None on loopback without one; refuses to go further."""
    token = settings.http_token.get_secret_value().strip() if settings.http_token else None
    if not token and not is_loopback(host):
        raise InputError(
            f"Refusing to listen on {host}: beyond loopback every request must carry a bearer token, "
            "and DATA_PLATFORM_HTTP_TOKEN is not set.",
            hint="Set DATA_PLATFORM_HTTP_TOKEN (e.g. to the output of `openssl rand -hex 32`) and give "
            "clients `Authorization: Bearer <token>`, or listen on 127.0.0.1.",
        )
    return token or None


def bind(host: str, port: int) -> socket.socket:
    """The listening socket, bound before the server starts so a taken port is a clear refusal."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
        sock = socket.socket(family, kind, proto)
    except OSError as exc:
        raise InputError(f"Cannot listen on {host}:{port}: {exc.strerror or exc}.") from exc
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise InputError(
            f"Cannot listen on {host}:{port}: {exc.strerror or exc}.",
            hint="Pick another port, or stop what uses this one.",
        ) from exc
    return sock


def _origin_host(origin: str) -> str | None:
    """The host of an http(s) origin, or None for anything else ("null", file://, garbage)."""
    try:
        parts = urlsplit(origin)
        _ = parts.port  # a malformed port raises
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    return parts.hostname.lower()


class HttpGuard:
    """ASGI middleware: the Origin check, then the bearer token; refusals say nothing more."""

    def __init__(self, app: ASGIApp, *, token: str | None, bound_host: str) -> None:
        self.app = app
        self._token = _digest(token) if token else None
        self._bound = bound_host.strip("[]").lower()

    def origin_allowed(self, origin: str) -> bool:
        host = _origin_host(origin)
        if host is None:
            return False
        return is_loopback(host) or (host == self._bound and not _is_wildcard(self._bound))

    def token_ok(self, authorization: str | None) -> bool:
        if self._token is None:
            return True
        scheme, _, credential = (authorization or "").partition(" ")
        # Digests of equal length, compared in constant time: timing tells neither the token's
        # characters nor its length.
        return hmac.compare_digest(_digest(credential.strip()), self._token) and scheme.lower() == "bearer"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, receive, send)
            return
        if scope["type"] != "http":  # no websocket route exists: nothing else gets past
            await send({"type": "websocket.close", "code": 1008})
            return
        headers = Headers(scope=scope)
        origin = headers.get("origin")
        client = (scope.get("client") or ("?",))[0]
        if origin is not None and not self.origin_allowed(origin):
            log.warning("refused a request from %s: foreign Origin", client)
            await Response("Forbidden", status_code=403)(scope, receive, send)
            return
        if not self.token_ok(headers.get("authorization")):
            log.warning("refused a request from %s: missing or wrong bearer token", client)
            unauthorized = Response("Unauthorized", status_code=401, headers={"WWW-Authenticate": "Bearer"})
            await unauthorized(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _digest(text: str) -> bytes:
    return hashlib.sha256(text.encode()).digest()


def _is_wildcard(host: str) -> bool:
    return host in ("0.0.0.0", "::", "")


def _allowed(patterns: Iterable[str]) -> list[str]:
    return [f"{p}:*" for p in patterns]


def transport_security(host: str) -> TransportSecuritySettings:
    """The SDK's Host/Origin check: on loopback only the loopback names are valid Host headers
    (a rebound DNS name is not); beyond loopback the token is the guard and HttpGuard the
    Origin check, since a server on 0.0.0.0 cannot know every name it is reached by."""
    if not is_loopback(host):
        return TransportSecuritySettings(enable_dns_rebinding_protection=False)
    names = ["127.0.0.1", "localhost", "[::1]"]
    shown = f"[{host}]" if ":" in host else host
    if shown not in names:
        names.append(shown)
    origins = [f"{scheme}://{n}" for n in names for scheme in ("http", "https")]
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True, allowed_hosts=_allowed(names), allowed_origins=_allowed(origins)
    )


def build_http_app(server: MCPServer, host: str, token: str | None) -> HttpGuard:
    """The SDK's streamable HTTP app at /mcp, behind HttpGuard."""
    app = server.streamable_http_app(
        streamable_http_path=MCP_PATH, host=host, transport_security=transport_security(host)
    )
    return HttpGuard(app, token=token, bound_host=host)


def serve_http(server: MCPServer, sock: socket.socket, host: str, token: str | None, log_level: str) -> None:
    """Serve on `sock` (from `bind`) until SIGTERM/SIGINT; returns after a graceful shutdown (the
    lifespan closed the registry), so SIGTERM ends the process with status 0."""
    import uvicorn

    port = sock.getsockname()[1]

    config = uvicorn.Config(
        build_http_app(server, host, token),
        host=host,
        port=port,
        log_config=None,  # uvicorn's records go to the root handler, which redacts
        log_level=log_level.lower(),
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
        server_header=False,
    )
    shown = f"[{host}]" if ":" in host else host
    log.info(
        "serving MCP over streamable HTTP at http://%s:%d%s (token %s)",
        shown,
        port,
        MCP_PATH,
        "required" if token else "not set",
    )
    # uvicorn catches SIGTERM, shuts down, then raises it again for the handler it found:
    # make that one a no-op so the process returns normally after the clean shutdown.
    previous = signal.signal(signal.SIGTERM, lambda *_: None)
    try:
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        signal.signal(signal.SIGTERM, previous)
