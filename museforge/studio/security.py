"""Guards for the local studio server: Host, cross-site, token checks and safe headers.

The studio listens on a local port that any web page the user visits could try to reach,
so every request must prove it comes from the studio's own page: the Host header stops DNS
rebinding, Origin / Sec-Fetch-Site stop other sites, and a per-run token (which other
origins cannot read) is required for anything that changes state.
"""

from __future__ import annotations

import ipaddress
import secrets
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from fastapi import FastAPI
from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

TOKEN_HEADER = "X-Museforge-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; "
    "script-src 'self'; style-src 'self'; connect-src 'self'; frame-ancestors 'none'; "
    "base-uri 'none'; form-action 'self'"
)
SECURITY_HEADERS: dict[str, str] = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    # Keep other sites from embedding our files (no-cors reads) or sharing our window.
    "Cross-Origin-Resource-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _authority(host: str, port: int) -> str:
    """Host and port as they appear in a Host header (IPv6 literals in brackets)."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


MIN_TOKEN_CHARS = 16


@dataclass(frozen=True)
class SecurityPolicy:
    """Where the studio listens and the token its page must send with every change."""

    host: str
    port: int
    token: str

    def __post_init__(self) -> None:
        if len(self.token) < MIN_TOKEN_CHARS:  # an empty or short token lets anyone through
            raise ValueError(
                f"the studio token must be at least {MIN_TOKEN_CHARS} characters; use new_token()"
            )

    @cached_property
    def allowed_hosts(self) -> frozenset[str]:
        """Accepted Host header values, lower case."""
        names = [self.host]
        if _is_loopback(self.host):
            names += ["localhost", "127.0.0.1"]
        hosts = {_authority(name.lower(), self.port) for name in names}
        if self.port == 80:  # browsers leave the default port out of Host and Origin
            hosts |= {name.lower() for name in names if ":" not in name}
        return frozenset(hosts)

    @cached_property
    def allowed_origins(self) -> frozenset[str]:
        """The server's own origins, as browsers write them in the Origin header."""
        return frozenset(f"http://{host}" for host in self.allowed_hosts)


def new_token() -> str:
    """A fresh random token for one server run."""
    return secrets.token_urlsafe(24)


def document_token(schema: dict[str, Any]) -> None:
    """Declare the launch token in an OpenAPI ``schema`` (in place): an API key in the
    ``X-Museforge-Token`` header, which every operation but a read needs."""
    schemes = schema.setdefault("components", {}).setdefault("securitySchemes", {})
    schemes["launchToken"] = {
        "type": "apiKey",
        "in": "header",
        "name": TOKEN_HEADER,
        "description": "The per-launch token the studio prints with its address",
    }
    for operations in schema["paths"].values():
        for method, operation in operations.items():
            if method.upper() not in SAFE_METHODS:
                operation["security"] = [{"launchToken": []}]


def refusals(method: str) -> dict[int, str]:
    """The statuses :class:`SecurityMiddleware` may refuse a ``method`` request with, and
    why (for the API schema); each comes with a JSON ``{"error": ...}`` body."""
    found = {
        400: "The Host header is not the studio's address",
        403: "A cross-origin or cross-site request",
    }
    if method.upper() not in SAFE_METHODS:
        found[401] = "The studio's launch token is missing or wrong"
    return found


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


class SecurityMiddleware:
    """Pure ASGI middleware, so streamed responses (SSE) pass through unbuffered."""

    def __init__(self, app: ASGIApp, policy: SecurityPolicy) -> None:
        self.app = app
        self.policy = policy

    def refusal(self, scope: Scope) -> tuple[int, str] | None:
        """Status and message for a request that must be refused, or None if it may pass."""
        headers = Headers(scope=scope)
        if headers.get("host", "").lower() not in self.policy.allowed_hosts:
            return 400, "unexpected Host header; open the studio at the address it printed"
        origin = headers.get("origin")
        if origin is not None and origin.lower() not in self.policy.allowed_origins:
            return 403, "cross-origin requests are not allowed"
        site = headers.get("sec-fetch-site", "").lower()
        method = scope.get("method", "GET")
        # Another port on localhost is "same-site" but not ours: let it link to us (a
        # top-level navigation) but not fetch or post.
        navigation = method in ("GET", "HEAD") and headers.get("sec-fetch-mode") == "navigate"
        if site == "cross-site" or (site == "same-site" and not navigation):
            return 403, "cross-site requests are not allowed"
        if scope["type"] == "http" and method not in SAFE_METHODS:
            token = headers.get(TOKEN_HEADER, "")
            if not secrets.compare_digest(token.encode(), self.policy.token.encode()):
                return 401, "missing or wrong studio token; reload the studio page"
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        refused = self.refusal(scope)
        if scope["type"] == "websocket":
            if refused is not None:
                await send({"type": "websocket.close", "code": 1008})  # policy violation
                return
            await self.app(scope, receive, send)
            return

        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)  # a route may set a stricter one
            await send(message)

        if refused is not None:
            await _error(*refused)(scope, receive, send_with_headers)
            return
        try:
            await self.app(scope, receive, send_with_headers)
        except Exception:
            # Starlette's own 500 page is sent outside user middleware, without our headers
            # and not as JSON; answer here and re-raise so the server still logs it.
            if not started:
                await _error(500, "internal error; see the studio's log")(
                    scope, receive, send_with_headers
                )
            raise


def install_security(app: FastAPI, policy: SecurityPolicy) -> None:
    """Add the security middleware to `app`; call before the app starts serving."""
    app.add_middleware(SecurityMiddleware, policy=policy)
