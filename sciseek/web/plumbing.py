"""HTTP plumbing below the routes: HEAD and OPTIONS for every route, and a request body limit.

Both are plain ASGI middleware around the FastAPI app:

- ``HEAD`` is answered as the ``GET`` of the same URL without its body (uptime checkers use
  it), and ``OPTIONS`` with ``204`` and an ``Allow`` header naming the route's methods (``404``
  for a path no route serves).
- A request body over ``MAX_BODY`` bytes (or a larger limit given for the request's path) is
  refused with ``413`` before any route reads it, whether or not the client announced its
  length.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from typing import Any

from starlette.routing import Match

MAX_BODY = 64 * 1024  # bytes; a subscription with every interest at its limit is ~25 KB

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


async def _answer(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]):
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _json_error(send: Send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await _answer(send, status, body, headers)


class Plumbing:
    """HEAD, OPTIONS and the body limit around ``app``, for the routes of ``router``;
    ``limits`` gives paths whose bodies may be larger than ``max_body`` their own limit."""

    def __init__(
        self,
        app: ASGIApp,
        router: Any,
        max_body: int = MAX_BODY,
        limits: Mapping[str, int] | None = None,
    ):
        self.app = app
        self.router = router
        self.max_body = max_body
        self.limits = dict(limits or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method = scope["method"]
        if method == "OPTIONS":
            await self._options(scope, send)
        elif method == "HEAD":
            await self._head(scope, receive, send)
        elif method in ("POST", "PUT", "PATCH", "DELETE"):
            await self._limited(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    def allowed(self, scope: Scope) -> set[str]:
        """The methods the routes serve at this request's path."""
        methods: set[str] = set()
        for route in self.router.routes:
            match, _ = route.matches(scope)  # PARTIAL: the path matches, the method does not
            if match != Match.NONE:
                methods |= set(getattr(route, "methods", None) or {"GET"})
        if "GET" in methods:
            methods.add("HEAD")
        return methods

    async def _options(self, scope: Scope, send: Send) -> None:
        methods = self.allowed(scope)
        if not methods:
            await _json_error(send, 404, "Not Found")
            return
        allow = ", ".join(sorted(methods | {"OPTIONS"})).encode()
        await _answer(send, 204, b"", [(b"allow", allow)])

    async def _head(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def without_body(message: Message) -> None:
            if message["type"] == "http.response.body":
                if message.get("more_body"):
                    return
                message = {"type": "http.response.body", "body": b""}
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, without_body)

    async def _limited(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = dict(scope.get("headers") or [])
        announced = headers.get(b"content-length", b"").decode("latin-1")
        limit = self.limits.get(scope.get("path", ""), self.max_body)
        too_big = f"request body is larger than {limit:,} bytes"
        if announced.isdigit() and int(announced) > limit:
            await _json_error(send, 413, too_big)
            return
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await _json_error(send, 413, too_big)
                return
            chunks.append(chunk)
            if not message.get("more_body"):
                break
        body = b"".join(chunks)
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)
