"""The module a product team vendors stays free of Flask and of the gateway's configuration."""

from __future__ import annotations

import json
import subprocess
import sys


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


def test_gateway_package_still_exports_the_factory() -> None:
    from gateway import create_app
    from gateway.app import create_app as factory

    assert create_app is factory
