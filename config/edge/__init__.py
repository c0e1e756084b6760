"""The edge configurations (nginx ``nginx.conf`` + ``gateway_product.conf``, ``Caddyfile``),
generated from the products file, and how to run them.

:func:`generate` fills the templates in ``templates/`` with the products' prefixes, internal
paths and upstreams (``flask --app gateway edge nginx|caddy`` prints the result). The files in
this folder are its output for the shipped products file and the demo addresses (public entry
127.0.0.1:8080, gateway :5000, the products' upstreams); ``tests/edge/test_configs.py`` holds
them in sync. :func:`render` writes the same output for other addresses into a folder, so what
``python app.py --edge``, the tests and ``bench/edge.py`` run is what the command prints.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Sequence
from dataclasses import dataclass

from config import products_file
from config.products_file import ProductSpec

HERE = os.path.dirname(os.path.abspath(__file__))
TEMPLATES = os.path.join(HERE, "templates")
EDGES = ("nginx", "caddy")
#: The addresses written in the shipped files (each product's comes from its upstream).
#: ``gateway``: the Console and built-in proxy's server; ``answers``: the answer server, where
#: ``auth_request`` / ``forward_auth`` ask (config/gunicorn_answers.py).
DEFAULTS = {"listen": "127.0.0.1:8080", "gateway": "127.0.0.1:5000", "answers": "127.0.0.1:5010"}
FILES = {"nginx": ("nginx.conf", "gateway_product.conf"), "caddy": ("Caddyfile",)}
#: Debian package that provides each edge's binary.
PACKAGES = {"nginx": "nginx-light", "caddy": "caddy"}
#: Gateway settings an edge on the same host needs (the edge is the one trusted hop).
GATEWAY_ENV = {"FORWARD_AUTH_ALLOW": "127.0.0.1/32,::1/128", "TRUSTED_PROXY_HOPS": "1"}


class EdgeMissing(RuntimeError):
    """The edge's binary is not installed."""


@dataclass(frozen=True)
class EdgeRun:
    argv: list[str]
    env: dict[str, str]


def generate(
    kind: str, specs: Sequence[ProductSpec] | None = None, **addresses: str
) -> dict[str, str]:
    """File name -> text of ``kind``'s configuration for ``specs`` (default: the shipped
    products file). ``addresses`` (``host:port``): ``listen``, ``gateway``, ``answers``, and a
    product's name to put another server than its upstream behind its prefix."""
    if kind not in EDGES:
        raise ValueError(f"edge is one of {', '.join(EDGES)}")
    specs = tuple(specs or products_file.load(products_file.DEFAULT_FILE))
    unknown = set(addresses) - set(DEFAULTS) - {s.name for s in specs}
    if unknown:
        raise ValueError(f"unknown addresses: {sorted(unknown)}")
    for spec in specs:
        if spec.upstream.startswith("https:") and spec.name not in addresses:
            raise ValueError(f"{spec.name}: the edge templates speak plain HTTP to products")
    where = DEFAULTS | {s.name: s.upstream_address for s in specs} | addresses
    common = {
        "@@LISTEN@@": where["listen"],
        "@@LISTEN_HOST@@": where["listen"].rsplit(":", 1)[0],
        "@@GATEWAY@@": where["gateway"],
        "@@ANSWERS@@": where["answers"],
        "@@PRODUCT_PORTS@@": ", ".join(
            f"{s.title} :{where[s.name].rsplit(':', 1)[1]}" for s in specs
        ),
        "@@PREFIXES@@": "|".join(s.prefix.lstrip("/") for s in specs),
    }
    if kind == "nginx":
        main = _fill(_template("nginx.conf"), common | {
            "@@UPSTREAMS@@": "".join(
                f"    upstream {s.name} {{\n        server {where[s.name]};\n"
                "        keepalive 32;\n    }\n"
                for s in specs
            ),
            "@@INTERNAL_LOCATIONS@@": "".join(
                f'        location ~* "{pattern}" {{\n            return 404;\n        }}\n'
                for pattern in _internal_patterns(specs)
            ),
            "@@PRODUCT_LOCATIONS@@": "".join(
                f"        location ~* ^{s.prefix}/ {{\n            set $product {s.name};\n"
                f"            set $product_prefix {s.prefix};\n"
                "            include gateway_product.conf;\n        }\n"
                for s in specs
            ),
        })
        return {"nginx.conf": main, "gateway_product.conf": _template("gateway_product.conf")}
    route = _template("Caddyfile.product")
    matchers = "".join(
        f"\t\t@{name} path_regexp {name} (?i){pattern}\n\t\trespond @{name} 404\n"
        for name, pattern in zip(
            ["internal"] + [f"internal{i}" for i in range(2, len(specs) + 1)],
            _internal_patterns(specs), strict=False,
        )
    )
    return {"Caddyfile": _fill(_template("Caddyfile"), common | {
        "@@INTERNAL_MATCHERS@@": matchers,
        "@@PRODUCT_ROUTES@@": "".join(
            _fill(route, common | {
                "@@MATCHER@@": "@" + s.name,
                "@@MATCHER_NAME@@": s.name,
                "@@PREFIX@@": s.prefix,
                "@@UPSTREAM@@": where[s.name],
            })
            for s in specs
        ),
    })}


def _internal_patterns(specs: Sequence[ProductSpec]) -> list[str]:
    """One regular expression per set of internal paths, for the products that share it
    (checked on the edge's own normalised path; the gateway checks again on its own)."""
    groups: dict[tuple[str, ...], list[str]] = {}
    for spec in specs:
        if spec.internal_paths:
            groups.setdefault(spec.internal_paths, []).append(spec.prefix.lstrip("/"))
    return [
        f"^/({'|'.join(prefixes)})/+({'|'.join(_path_pattern(p) for p in paths)})"
        r"([/.;\s]|$)"
        for paths, prefixes in groups.items()
    ]


def _path_pattern(path: str) -> str:
    return "/+".join(re.escape(part) for part in path.strip("/").split("/"))


def _template(name: str) -> str:
    folder = HERE if name == "gateway_product.conf" else TEMPLATES
    with open(os.path.join(folder, name), encoding="utf-8") as f:
        return f.read()


def _fill(text: str, values: dict[str, str]) -> str:
    for marker, value in values.items():
        text = text.replace(marker, value)
    return text


def render(
    kind: str, workdir: str, specs: Sequence[ProductSpec] | None = None, **addresses: str
) -> str:
    """Write :func:`generate`'s files into ``workdir``; returns the main file's path."""
    os.makedirs(workdir, exist_ok=True)
    for name, text in generate(kind, specs, **addresses).items():
        with open(os.path.join(workdir, name), "w", encoding="utf-8") as f:
            f.write(text)
    if kind == "nginx":
        os.makedirs(os.path.join(workdir, "tmp"), exist_ok=True)
    return os.path.join(workdir, FILES[kind][0])


def binary(kind: str) -> str:
    """The edge's executable, or :class:`EdgeMissing` naming the Debian package."""
    found = shutil.which(kind) or shutil.which(kind, path="/usr/sbin:/usr/bin:/sbin")
    if not found:
        raise EdgeMissing(
            f"{kind} is not installed. On Debian/Ubuntu: sudo apt-get install {PACKAGES[kind]}"
        )
    return found


def command(
    kind: str, workdir: str, specs: Sequence[ProductSpec] | None = None, **addresses: str
) -> EdgeRun:
    """Render the configuration into ``workdir`` and the command that runs it in the
    foreground, touching nothing outside ``workdir`` (no system service, pid or log file)."""
    exe = binary(kind)
    main = render(kind, workdir, specs, **addresses)
    env = dict(os.environ)
    if kind == "nginx":
        # As root, nginx's workers would run as nobody, who cannot enter a private temporary
        # folder to buffer request bodies; these runs are loopback-only and throw-away.
        directives = "daemon off;" + (" user root;" if os.geteuid() == 0 else "")
        argv = [exe, "-p", workdir, "-e", "stderr", "-c", main, "-g", directives]
    else:
        argv = [exe, "run", "--adapter", "caddyfile", "--config", main]
        env |= {"HOME": workdir, "XDG_DATA_HOME": workdir, "XDG_CONFIG_HOME": workdir}
    return EdgeRun(argv, env)
