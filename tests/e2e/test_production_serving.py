"""The documented production command serves a product app under gunicorn (not the dev server)."""

from __future__ import annotations

import os
import subprocess
import sys

import requests

from tests.support.stack import ROOT, free_port, wait_until_up


def test_product_served_by_gunicorn(tmp_path: object) -> None:
    port = free_port()
    env = {**os.environ, "APP_ENV": "test", "SEGMENT_DATABASE_URL": f"sqlite:///{tmp_path}/s.db"}
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-b", f"127.0.0.1:{port}", "-w", "1",
         "product_stubs.segment:create_app()"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    try:
        wait_until_up(f"http://127.0.0.1:{port}/healthz")
        login = requests.get(f"http://127.0.0.1:{port}/login", timeout=5)
        assert login.status_code == 200 and "Segment" in login.text
        assert "gunicorn" in requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5).headers[
            "Server"]
    finally:
        server.terminate()
        server.wait(timeout=10)
        assert server.stderr is not None
        server.stderr.close()
