"""The shipped edge configurations (``nginx.conf`` + ``gateway_product.conf``, ``Caddyfile``),
rendered for other addresses, and how to run them.

The files in this folder are the operator's starting point as they are (public entry
127.0.0.1:8080, gateway :5000, Segment :5001, SendGrid :5002). :func:`render` only swaps those
addresses, so what ``python app.py --edge``, the tests and ``bench/edge.py`` run is the shipped
file itself.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass

HERE = os.path.dirname(os.path.abspath(__file__))
EDGES = ("nginx", "caddy")
#: The addresses written in the shipped files.
DEFAULTS = {
    "listen": "127.0.0.1:8080",
    "gateway": "127.0.0.1:5000",
    "segment": "127.0.0.1:5001",
    "sendgrid": "127.0.0.1:5002",
}
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


def render(kind: str, workdir: str, **addresses: str) -> str:
    """Write ``kind``'s files into ``workdir`` with ``addresses`` (listen, gateway, segment,
    sendgrid as ``host:port``) swapped in; returns the main file's path."""
    if kind not in EDGES:
        raise ValueError(f"edge is one of {', '.join(EDGES)}")
    unknown = set(addresses) - set(DEFAULTS)
    if unknown:
        raise ValueError(f"unknown addresses: {sorted(unknown)}")
    os.makedirs(workdir, exist_ok=True)
    for name in FILES[kind]:
        with open(os.path.join(HERE, name), encoding="utf-8") as f:
            text = f.read()
        for key, value in addresses.items():
            text = text.replace(DEFAULTS[key], value)
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


def command(kind: str, workdir: str, **addresses: str) -> EdgeRun:
    """Render the configuration into ``workdir`` and the command that runs it in the
    foreground, touching nothing outside ``workdir`` (no system service, pid or log file)."""
    exe = binary(kind)
    main = render(kind, workdir, **addresses)
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
