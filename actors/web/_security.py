"""The web app's guard: token, Origin and Host checks, a body cap, safe headers, redaction.

A pure ASGI middleware, so it also covers streaming responses and the static
dashboard, and runs before FastAPI parses anything.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Iterable
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qsl, urlencode

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["COOKIE_NAME", "DEFAULT_MAX_BODY_BYTES", "Redactor", "SecurityMiddleware"]

COOKIE_NAME = "execution_engine_token"
DEFAULT_MAX_BODY_BYTES = 1024 * 1024

_SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (
        b"content-security-policy",
        b"default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self';"
        b" img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    # The page's own URL carried the token once: never pass it on.
    (b"referrer-policy", b"no-referrer"),
    (b"cache-control", b"no-store"),
)


class Redactor:
    """Replaces secrets with ``***`` in text, and in JSON text as JSON escapes them.

    Args:
        secrets: the literal strings to hide (the engine's ``redact`` and the token).
    """

    def __init__(self, secrets: Iterable[str]) -> None:
        plain = sorted({s for s in secrets if s}, key=len, reverse=True)
        self._plain = tuple(plain)
        # A secret with a quote or a backslash looks different inside a JSON string.
        escaped = {json.dumps(s)[1:-1] for s in plain} | set(plain)
        self._json = tuple(sorted(escaped, key=len, reverse=True))

    def text(self, value: str) -> str:
        """``value`` with every secret masked."""
        for secret in self._plain:
            value = value.replace(secret, "***")
        return value

    def json(self, value: str) -> str:
        """JSON text with every secret masked inside its strings."""
        for secret in self._json:
            value = value.replace(secret, "***")
        return value


class SecurityMiddleware:
    """Refuses requests without the token (401), from another origin or host (403), too big (413).

    Args:
        app: the wrapped ASGI app.
        token: the secret every request must carry.
        allowed_hosts: the ``Host`` names (without port) accepted; None accepts
            any host whose requests carry the token and a matching ``Origin``.
        max_body_bytes: the largest request body accepted.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        token: str,
        allowed_hosts: Iterable[str] | None,
        max_body_bytes: int,
    ) -> None:
        self.app = app
        self._token = token.encode()
        self._hosts = None if allowed_hosts is None else frozenset(h.lower() for h in allowed_hosts)
        self._max_body = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = _headers(scope)
        refusal = self._refusal(scope, headers)
        if refusal is not None:
            await _plain(send, *refusal)
            return
        length = headers.get("content-length", "0")
        if not length.isdigit() or int(length) > self._max_body:
            await _plain(send, 413, f"request body above {self._max_body} bytes")
            return
        query_token = _query_token(scope)
        if query_token is not None and scope["method"] == "GET" and _wants_page(scope):
            # Trade the token in the URL for a cookie, and drop it from the address bar.
            await _redirect_with_cookie(scope, send, query_token)
            return
        if scope["method"] in {"POST", "PUT", "PATCH"}:
            body = await _read_body(receive, self._max_body)
            if body is None:
                await _plain(send, 413, f"request body above {self._max_body} bytes")
                return
            receive = _replay(body, receive)
        await self.app(scope, receive, self._secured(scope, send))

    def _refusal(self, scope: Scope, headers: dict[str, str]) -> tuple[int, str] | None:
        host = headers.get("host", "")
        if self._hosts is not None and _hostname(host) not in self._hosts:
            return 403, "host not allowed"
        origin = headers.get("origin")
        if origin is not None and origin != f"{scope.get('scheme', 'http')}://{host}":
            return 403, "cross-origin request refused"
        if headers.get("sec-fetch-site") == "cross-site":
            return 403, "cross-site request refused"
        if not self._has_token(scope, headers):
            return 401, "missing or wrong token"
        return None

    def _has_token(self, scope: Scope, headers: dict[str, str]) -> bool:
        candidates: list[str] = []
        auth = headers.get("authorization", "")
        if auth[:7].lower() == "bearer ":
            candidates.append(auth[7:].strip())
        cookie = SimpleCookie()
        try:
            cookie.load(headers.get("cookie", ""))
        except Exception:  # a malformed cookie header is just no cookie
            cookie = SimpleCookie()
        if COOKIE_NAME in cookie:
            candidates.append(cookie[COOKIE_NAME].value)
        query = _query_token(scope)
        if query is not None:
            candidates.append(query)
        return any(hmac.compare_digest(c.encode(), self._token) for c in candidates)

    def _secured(self, scope: Scope, send: Send) -> Send:
        async def secured(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [h for h in _SECURITY_HEADERS if h[0] not in present]
                if _query_token(scope) is not None:
                    headers.append((b"set-cookie", _cookie(scope, _query_token(scope) or "")))
                message = {**message, "headers": headers}
            await send(message)

        return secured


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    # Read up front (a chunked body has no Content-Length), so the cap holds
    # before FastAPI parses anything; None when it was exceeded.
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks)
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def _headers(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}


def _hostname(host: str) -> str:
    if host.startswith("["):
        return host[: host.find("]") + 1].lower()
    return host.rsplit(":", 1)[0].lower() if host.count(":") == 1 else host.lower()


def _query_token(scope: Scope) -> str | None:
    query: str = scope.get("query_string", b"").decode("latin-1")
    if "token=" not in query:
        return None
    for name, value in parse_qsl(query):
        if name == "token":
            return value
    return None


def _wants_page(scope: Scope) -> bool:
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    return path in {root, root + "/"}


def _cookie(scope: Scope, token: str) -> bytes:
    path = scope.get("root_path", "") or "/"
    return f"{COOKIE_NAME}={token}; Path={path}; HttpOnly; SameSite=Strict".encode("latin-1")


async def _redirect_with_cookie(scope: Scope, send: Send, token: str) -> None:
    query = urlencode(
        [
            (k, v)
            for k, v in parse_qsl(scope.get("query_string", b"").decode("latin-1"))
            if k != "token"
        ]
    )
    location = (scope.get("root_path", "") + "/") + (f"?{query}" if query else "")
    headers = [
        (b"location", location.encode("latin-1")),
        (b"set-cookie", _cookie(scope, token)),
        (b"content-length", b"0"),
        *_SECURITY_HEADERS,
    ]
    await send({"type": "http.response.start", "status": 303, "headers": headers})
    await send({"type": "http.response.body", "body": b""})


async def _plain(send: Send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    headers: list[tuple[bytes, bytes]] = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        *_SECURITY_HEADERS,
    ]
    if status == 401:
        headers.append((b"www-authenticate", b"Bearer"))
    start: dict[str, Any] = {"type": "http.response.start", "status": status, "headers": headers}
    await send(start)
    await send({"type": "http.response.body", "body": body})
