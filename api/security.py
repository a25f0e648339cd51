"""What every response carries against sniffing, leaking and framing, and the refusal of a NUL.

Every response says `nosniff` and a `Referrer-Policy`; every HTML page a Content-Security-Policy
that runs only the service's own script files (no inline script, no event-handler attribute)
and may not be framed. A NUL in the path or the query is refused before any view or query sees
it: PostgreSQL's driver cannot take one in a parameter, and no id, date or filter holds one.
"""

from __future__ import annotations

from flask import Flask, Response, request
from werkzeug.exceptions import BadRequest

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        # Swagger UI sets style attributes from its scripts; no page script is inline.
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
"""The pages' policy: scripts, styles, images and requests from the service itself only."""

HEADERS = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}
"""Headers every response carries."""


def refuse_nul() -> None:
    """400 for a NUL anywhere in the path or the query (raw or percent-encoded)."""
    query = request.args.items(multi=True)
    if "\x00" in request.path or any("\x00" in name + value for name, value in query):
        raise BadRequest("the path or the query contains a NUL character")


def protect(response: Response) -> Response:
    """Add the headers every response carries, and the pages' policy to HTML."""
    response.headers.update(HEADERS)
    if response.mimetype == "text/html":
        response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    return response


def register_security(app: Flask) -> None:
    """Install the NUL guard and the response headers."""
    app.before_request(refuse_nul)
    app.after_request(protect)
