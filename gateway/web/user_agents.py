"""A person-readable device name from a User-Agent string ("Chrome 120 on Windows 10").

Parsing is ua-parser's (the uap-core rules, kept up to date by ua-parser-builtins); a string it
does not recognise is shown as "Unknown browser", never raw.
"""

from __future__ import annotations

from functools import lru_cache

import ua_parser

_UNKNOWN = "Other"


def _version(major: str | None, minor: str | None = None) -> str:
    if not major:
        return ""
    return f" {major}" + (f".{minor}" if minor and minor != "0" else "")


@lru_cache(maxsize=256)
def device_name(user_agent: str | None) -> str:
    if not user_agent:
        return "Unknown browser"
    result = ua_parser.parse(user_agent[:512])
    browser = result.user_agent
    if browser is None or browser.family == _UNKNOWN:
        return "Unknown browser"
    name = browser.family + _version(browser.major)
    system = result.os
    if system is not None and system.family != _UNKNOWN:
        name += " on " + system.family + _version(system.major, system.minor)
    device = result.device
    if device is not None and device.family not in (_UNKNOWN, "Spider") and device.brand:
        name += f" ({device.model or device.family})"
    return name
