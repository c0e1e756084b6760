"""What differs between the two products: name, nouns, look, Segment-only session history."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ProductProfile:
    name: str  # "segment" / "sendgrid": assertion audience and config prefix
    title: str  # "Segment" / "SendGrid"
    container: str  # "workspace" / "account"
    containers: str  # "workspaces" / "accounts" (URL segment)
    item: str  # the stand-in product object ("source" / "sender")
    session_history: bool  # Segment keeps a session history page
    template_folder: str  # the product's own look (base.html)
    port: int  # where the demo serves it (its SITE_URL default)
