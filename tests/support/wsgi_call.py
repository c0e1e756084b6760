"""One request straight to a WSGI app, without Werkzeug's test client.

The test client builds the request's URL from its Host after every call (for its cookie jar)
and raises on a Host no URL can be built from (``xn--a``), before the test sees the answer:
hostile-Host tests call the app this way instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from werkzeug.test import EnvironBuilder, run_wsgi_app
from werkzeug.wrappers import Response


def wsgi_get(
    app: Any, path: str, headers: Mapping[str, str], environ: Mapping[str, Any] | None = None
) -> Response:
    """``GET path`` with ``headers`` (``Host`` taken as is) and extra ``environ`` keys."""
    built = EnvironBuilder(path=path, base_url="http://localhost/").get_environ()
    built.update(environ or {})
    for name, value in headers.items():
        built["HTTP_" + name.upper().replace("-", "_")] = value
    body, status, answer_headers = run_wsgi_app(app, built, buffered=True)
    return Response(b"".join(body), status, answer_headers)
