"""The module a product team vendors stays free of Flask and of the gateway's configuration;
a gateway process starts without the slow SAML and SCIM libraries; the gateway makes its HTTP
clients in one place; Console views leave committing to services."""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_vendored_assertion_module_imports_without_flask_or_gateway_config() -> None:
    code = (
        "import json, sys; import gateway.assertion; "
        "print(json.dumps(sorted(m for m in sys.modules "
        "if m.split('.')[0] in {'flask', 'werkzeug', 'config', 'sqlalchemy', 'requests', "
        "'itsdangerous'} "
        "or (m.startswith('gateway.') and m != 'gateway.assertion'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []


def test_creating_the_gateway_app_loads_neither_pysaml2_nor_scim2_models(tmp_path: Path) -> None:
    """Every gateway process (the server, the answer server, each worker, each CLI command)
    creates the app; pysaml2 and scim2-models take over a second to import between them, so
    they are imported by the first SAML sign-in and the first SCIM request, not at start."""
    settings = {"APP_ENV": "test", "DATABASE_URL": f"sqlite:///{tmp_path / 'gateway.db'}",
                "SECRET_KEY": "test-secret-key-not-a-demo-value-0123456789",
                "ASSERTION_KEY_DIR": str(tmp_path / "keys"), "SESSION_EPOCH_FILE": ""}
    code = (
        "import json, sys; from gateway import create_app; "
        f"app = create_app({settings!r}); "
        "print(json.dumps(['scim' in app.blueprints, 'sso_saml' in app.blueprints, "
        "sorted({m.split('.')[0] for m in sys.modules} & {'saml2', 'scim2_models'})]))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=ROOT)
    assert json.loads(out.stdout) == [True, True, []]


def test_gateway_package_still_exports_the_factory() -> None:
    from gateway import create_app
    from gateway.app import create_app as factory

    assert create_app is factory


#: One HTTP client per job, each made in one place (gateway/products/table.py): urllib3 for the
#: streaming proxy (``make_pool``), requests for the product API calls (``make_session``); and
#: the clients that call organizations' identity providers (gateway/organizations/sso/idp_http.py).
_CLIENT_MADE = re.compile(
    r"requests\.(Session|get|post|put|patch|delete|request)\(|PoolManager\(|"
    r"HTTPConnectionPool\(|^\s*(import|from) (httpx|http\.client|urllib\.request)\b",
    re.MULTILINE,
)
_CLIENT_FACTORY = os.path.join("gateway", "products", "table.py")
_IDP_CLIENTS = os.path.join("gateway", "organizations", "sso", "idp_http.py")
#: The vendored verifier fetches the JWKS with the standard library (it depends on PyJWT and
#: cryptography only: product teams copy it).
_VENDORED = os.path.join("gateway", "assertion.py")


def test_gateway_makes_its_http_clients_in_one_place() -> None:
    makers = []
    for folder, _dirs, files in os.walk(os.path.join(ROOT, "gateway")):
        for name in files:
            path = os.path.relpath(os.path.join(folder, name), ROOT)
            if name.endswith(".py") and path not in (_CLIENT_FACTORY, _IDP_CLIENTS, _VENDORED):
                with open(os.path.join(ROOT, path), encoding="utf-8") as f:
                    if _CLIENT_MADE.search(f.read()):
                        makers.append(path)
    assert makers == []


def _commit_calls(path: str) -> list[int]:
    """Lines of ``path`` that call a ``commit`` method (code only: comments and strings that
    mention one do not count)."""
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read(), filename=path)
    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "commit"
    ]


def test_console_views_never_commit() -> None:
    """One unit of work per request (gateway/db.py): the service carrying out the use case
    commits; a view that commits splits the request's work in two, or commits what a refusal
    left half-done. The Console's and the operator console's views alike."""
    commits = []
    views = [os.path.join(ROOT, "gateway", package) for package in ("console", "admin")]
    for folder, _dirs, files in (walked for top in views for walked in os.walk(top)):
        for name in sorted(files):
            if name.endswith(".py"):
                path = os.path.join(folder, name)
                commits += [f"{os.path.relpath(path, ROOT)}:{n}" for n in _commit_calls(path)]
    assert commits == []
