"""A stand-in product for the proxy tests and the benchmark: echoes what reached it.

Run alone (``python -m tests.support.echo PORT PRODUCT JWKS [ISSUER]``, JWKS a URL or a pinned
file) when a test needs the upstream in another process, so that only the gateway's memory is
measured.
"""

from __future__ import annotations

import hashlib
import sys
import time
from collections.abc import Iterator
from typing import Any

from flask import Flask, Response, jsonify, request
from markupsafe import escape
from werkzeug.serving import make_server

from gateway.assertion import (
    AssertionVerifier,
    InvalidAssertion,
    JwksFile,
    KeySource,
    RemoteJwks,
)

#: The gateway's default public URL: the issuer its assertions name.
ISSUER = "http://127.0.0.1:5000"


def echo_app(product: str, keys: KeySource, issuer: str = ISSUER) -> Flask:
    """A stand-in product: echoes what reached it and checks the assertion like a product."""
    app = Flask(f"echo_{product}", static_folder=None)
    verifier = AssertionVerifier(product, issuer, keys)

    @app.route("/", defaults={"path": ""}, methods=["GET", "POST", "PUT", "DELETE", "HEAD"])
    @app.route("/<path:path>", methods=["GET", "POST", "PUT", "DELETE", "HEAD", "PATCH"])
    def echo(path: str) -> Response:
        digest = hashlib.sha256()
        size = 0
        while chunk := request.stream.read(64 * 1024):
            digest.update(chunk)
            size += len(chunk)
        token = request.headers.get("X-Identity-Assertion")
        try:
            identity = verifier.verify(token, method=request.method, path=request.path)
            who: Any = {
                "sub": identity.console_user_id,
                "email": identity.email,
                "puid": identity.product_user_id,
                "sid": identity.session_id,
                "amr": list(identity.auth_methods),
            }
        except InvalidAssertion as exc:
            who = {"error": str(exc)}
        response = jsonify(
            product=product,
            method=request.method,
            path=request.path,
            query=request.query_string.decode(),
            headers=[[k, v] for k, v in request.headers.items()],
            environ_keys=sorted(k for k in request.environ if k.startswith("HTTP_")),
            body_size=size,
            body_sha256=digest.hexdigest(),
            identity=who,
        )
        response.headers["X-Upstream"] = product
        return response

    @app.get("/bench/page")
    def bench_page() -> Response:
        """A small product page, the benchmarks' page: who is signed in, as a product shows it.

        The catch-all above echoes every request header back, so a request carrying the
        assertion would cost the product more to answer than one without: the benchmarks
        would charge the hop for the echo."""
        token = request.headers.get("X-Identity-Assertion")
        who = "nobody"
        if token is not None:  # one that fails is a failed request (non-2xx for wrk)
            try:
                who = verifier.verify(token, method=request.method, path=request.path).email
            except InvalidAssertion as exc:
                return Response(f"refused: {exc}\n", status=401, mimetype="text/plain")
        return Response(f"<!doctype html><title>{product}</title><p>Signed in as {escape(who)}"
                        f" on {escape(request.path)}</p>\n", mimetype="text/html")

    @app.get("/download/<int:size>")
    def download(size: int) -> Response:
        def chunks() -> Iterator[bytes]:
            block = b"x" * (64 * 1024)
            left = size
            while left > 0:
                piece = block[: min(left, len(block))]
                left -= len(piece)
                yield piece

        return Response(chunks(), mimetype="application/octet-stream")

    @app.get("/slow")
    def slow() -> str:
        time.sleep(float(request.args.get("s", "3")))
        return "late"

    @app.get("/redirect")
    def redirect_to() -> Response:
        response = Response(status=302)
        response.headers["Location"] = request.args["to"]
        return response

    @app.get("/cookies")
    def cookies() -> Response:
        response = Response("ok")
        response.headers.add("Set-Cookie", "a=1; Path=/; Domain=127.0.0.1; HttpOnly")
        response.headers.add("Set-Cookie", "b=2; Path=/settings; Secure")
        response.headers.add("Set-Cookie", "c=3")
        response.headers.add("Set-Cookie", "gw_session=evil; Path=/")
        return response

    @app.get("/hop")
    def hop() -> Response:
        response = Response("ok")
        response.headers["Connection"] = "X-Secret, close"
        response.headers["X-Secret"] = "hidden"
        response.headers["Keep-Alive"] = "timeout=5"
        response.headers["Trailer"] = "X-Checksum"
        response.headers["X-Kept"] = "yes"
        return response

    @app.get("/own-headers")
    def own_headers() -> Response:
        response = Response("ok")
        response.headers["Content-Security-Policy"] = "default-src 'self'; frame-ancestors 'self'"
        response.headers["Cache-Control"] = "public, max-age=60"
        response.headers["X-Upstream"] = product
        return response

    @app.get("/repeated")
    def repeated() -> Response:
        response = Response("ok")
        response.headers.add("X-Multi", "one")
        response.headers.add("X-Multi", "two")
        return response

    @app.get("/gzip")
    def gzipped() -> Response:
        import gzip

        response = Response(gzip.compress(b"hello " * 1000), mimetype="text/plain")
        response.headers["Content-Encoding"] = "gzip"
        return response

    return app


def remote_echo_app(product: str, jwks_url: str, issuer: str = ISSUER) -> Flask:
    """The echo product fetching the gateway's JWKS over HTTP (``bench/proxy.py``, gunicorn)."""
    return echo_app(product, RemoteJwks(jwks_url), issuer)


def main() -> None:
    port, product, jwks = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    issuer = sys.argv[4] if len(sys.argv) > 4 else ISSUER
    keys = RemoteJwks(jwks) if jwks.startswith("http") else JwksFile(jwks)
    app = echo_app(product, keys, issuer)
    make_server("127.0.0.1", port, app, threaded=True).serve_forever()


if __name__ == "__main__":
    main()
