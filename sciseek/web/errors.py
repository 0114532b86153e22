"""How the web app answers sciseek's errors: by the error tree, not by class.

A ``BadInput`` becomes its ``status`` (a 4xx) and an ``OperationalError`` its ``status`` (503
unless the class says otherwise), both with ``{"detail": message}``. The answer is rendered by
the app's own ``HTTPException`` handler, so HTML pages and JSON keep one look.
"""

from __future__ import annotations

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse, Response

from sciseek.errors import BadInput, OperationalError, SciseekError


def http_exception(exc: SciseekError) -> HTTPException:
    """The HTTP error that answers ``exc``: its class's status and its message as detail."""
    status = exc.status if isinstance(exc, BadInput | OperationalError) else 500
    return HTTPException(status, detail=str(exc))


def add_error_handlers(app: FastAPI) -> None:
    """Answer every ``SciseekError`` a route lets through by the error tree."""

    @app.exception_handler(SciseekError)
    async def sciseek_error(request: Request, exc: SciseekError) -> Response:
        http = http_exception(exc)
        handler = app.exception_handlers.get(HTTPException)
        if handler is None:
            return JSONResponse({"detail": http.detail}, status_code=http.status_code)
        return await handler(request, http)
