"""The stack as users meet it: real HTTP through the gateway to real product processes."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import requests

from config import products_file
from tests.support.csrf import csrf_from
from tests.support.person import Person
from tests.support.stack import ROOT, Stack, free_port, stop_process, wait_until_up


def test_health_and_readiness_of_the_running_stack(stack: Stack) -> None:
    assert requests.get(stack.gateway_url + "/healthz", timeout=5).json() == {"status": "ok"}
    ready = requests.get(stack.gateway_url + "/readyz", timeout=5).json()
    assert ready["status"] == "ready", ready


def test_sign_up_verify_and_sign_in_over_http(stack: Stack) -> None:
    person = Person(stack.gateway_url, "e2e-person@example.com", "an end to end passphrase")
    person.sign_up_and_verify()
    home = person.get("/")
    assert home.status_code == 200 and "e2e-person@example.com" in home.text


def test_public_url_alone_gives_the_demo_products_their_issuer(tmp_path: Any) -> None:
    """``PUBLIC_URL=http://localhost:5000 python app.py``: product pages used to answer 401
    (the products expected the issuer http://127.0.0.1:5000) until GATEWAY_PUBLIC_URL was set
    as well."""
    port, segment_port, sendgrid_port = free_port(), free_port(), free_port()
    answers_port = free_port()
    with open(products_file.DEFAULT_FILE, encoding="utf-8") as f:
        shipped = f.read()
    products = tmp_path / "products.toml"
    products.write_text(shipped.replace("127.0.0.1:5001", f"127.0.0.1:{segment_port}")
                        .replace("127.0.0.1:5002", f"127.0.0.1:{sendgrid_port}"))
    public = f"http://localhost:{port}"
    env = {key: value for key, value in os.environ.items()
           if key not in ("APP_ENV", "GATEWAY_PUBLIC_URL", "GATEWAY_INTERNAL_URL")} | {
        "PUBLIC_URL": public,
        "PRODUCTS_FILE": str(products),
        "DATABASE_URL": f"sqlite:///{tmp_path}/gateway.db",
        "SEGMENT_DATABASE_URL": f"sqlite:///{tmp_path}/segment.db",
        "SENDGRID_DATABASE_URL": f"sqlite:///{tmp_path}/sendgrid.db",
        "ASSERTION_KEY_DIR": str(tmp_path / "keys"),
    }
    demo = subprocess.Popen([sys.executable, "app.py", "--port", str(port),
                             "--answers-port", str(answers_port)], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until_up(f"{public}/healthz", timeout=60)
        browser = requests.Session()
        browser.trust_env = False
        token = csrf_from(browser.get(f"{public}/login").text)
        signed_in = browser.post(f"{public}/login", allow_redirects=False, data={
            "csrf_token": token, "email": "alice@example.com",
            "password": "alice-demo-password"})
        assert signed_in.status_code == 302
        page = browser.get(f"{public}/sendgrid/", allow_redirects=False)  # alice is linked there
        assert page.status_code == 200, page.text[:500]
        # The same process serves forward-auth on its answer server (no edge: nobody allowed).
        answers = f"http://127.0.0.1:{answers_port}"
        assert requests.get(f"{answers}/readyz", timeout=5).json()["status"] == "ready"
        assert requests.get(f"{answers}/auth/nginx", timeout=5).status_code == 403
    finally:
        stop_process(demo)
