"""The docs a newcomer reads hold together: every relative link in the README, ``docs/`` and the
other READMEs points to a file that exists, and a ``#section`` to a heading it has."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTS = sorted(
    [ROOT / "README.md", ROOT / "product_stubs" / "README.md", ROOT / "bench" / "README.md"]
    + list((ROOT / "docs").rglob("*.md"))
)
#: ``[label](target)``, outside code spans; images too.
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
CODE = re.compile(r"```.*?```|`[^`\n]*`", re.S)


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(document: Path) -> set[str]:
    text = CODE.sub("", document.read_text(encoding="utf-8"))
    return {slug(m.group(1)) for m in re.finditer(r"^#+ (.+)$", text, re.M)}


def relative_links(document: Path) -> list[str]:
    text = CODE.sub("", document.read_text(encoding="utf-8"))
    return [t for t in LINK.findall(text) if not re.match(r"[a-z][a-z0-9+.-]*:", t)]


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(document: Path) -> None:
    broken = []
    for target in relative_links(document):
        path, _, anchor = target.partition("#")
        file = (document.parent / path).resolve() if path else document
        if not file.exists():
            broken.append(target)
        elif anchor and file.suffix == ".md" and anchor not in anchors(file):
            broken.append(target)
    assert broken == [], f"{document.relative_to(ROOT)}: broken links {broken}"


def test_every_doc_is_reachable_from_the_readme() -> None:
    """No orphan page: each file in docs/ is linked from the README or from another doc."""
    linked = set()
    for document in DOCUMENTS:
        for target in relative_links(document):
            path = target.partition("#")[0]
            if path:
                linked.add((document.parent / path).resolve())
    orphans = [p for p in (ROOT / "docs").rglob("*.md")
               if p.resolve() not in linked and p.parent.resolve() not in linked]
    assert orphans == []
