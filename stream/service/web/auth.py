"""The bearer-token rule for the web view, which a browser cannot send as a header.

API clients send ``Authorization: Bearer <token>``. A browser opens ``/?token=<token>`` once:
the token is checked, kept in an HttpOnly, SameSite=Strict cookie (so the page's pictures and
requests carry it, and other sites cannot make the browser use it) and the address bar is
cleared by a redirect. Everything else is refused with one line, as the API does.
"""

from __future__ import annotations

import hmac

from fastapi import Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

COOKIE = "ganstream_token"
REFUSED = "missing or wrong bearer token"

LOGIN_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>ganstream: token needed</title></head>
<body><p id="refused">{reason}</p>
<form method="get" action="/"><label>Token <input name="token" type="password" autofocus></label>
<button>Open</button></form></body></html>
"""


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


def check_token(request: Request, token: str) -> Response | None:
    """None when the request may go on; otherwise the response that refuses (or logs in) it."""
    if not token:
        return None
    path = request.url.path
    given = request.query_params.get("token")
    if path == "/" and given is not None:
        if not _same(given, token):
            return HTMLResponse(LOGIN_PAGE.format(reason="wrong token"), status_code=401)
        response = RedirectResponse("/", status_code=303)
        response.set_cookie(COOKIE, token, httponly=True, samesite="strict")
        return response
    bearer = request.headers.get("authorization", "")
    if _same(bearer, f"Bearer {token}") or _same(request.cookies.get(COOKIE, ""), token):
        return None
    if path == "/":
        return HTMLResponse(LOGIN_PAGE.format(reason="this page needs the service's token"), status_code=401)
    return JSONResponse({"detail": REFUSED}, status_code=401)
