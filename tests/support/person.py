"""A person with a browser (a ``requests.Session``) using the real stack over HTTP, under the
verbs ``tests.support.console.Actions`` uses in process (sign_up, verify, sign_in, sign_out,
reauthenticate, mailed_link; docs/testing.md, "One vocabulary").

Each action does what the pages do: read the CSRF token from the form, post it, follow the mailed
link from the developer mailbox. ``base`` may change between calls, which is how a test sends the
same browser to another gateway instance (the cookie is for 127.0.0.1, whatever the port).
"""

from __future__ import annotations

import html
import re

import requests

from tests.support.csrf import csrf_from

_TIMEOUT = 15


def browser() -> requests.Session:
    session = requests.Session()
    session.trust_env = False
    return session


class Person:
    def __init__(self, base: str, email: str, password: str) -> None:
        self.base = base
        self.email = email
        self.password = password
        self.http = browser()

    def get(self, path: str, **kwargs: object) -> requests.Response:
        kwargs.setdefault("allow_redirects", False)
        kwargs.setdefault("timeout", _TIMEOUT)
        return self.http.get(self.base + path, **kwargs)  # type: ignore[arg-type]

    def post_form(self, page_path: str, action: str, data: dict[str, str]) -> requests.Response:
        """Open ``page_path``, then submit ``data`` with that page's CSRF token to ``action``."""
        token = csrf_from(self.get(page_path).text)
        return self.http.post(
            self.base + action, data={"csrf_token": token, **data}, allow_redirects=False,
            timeout=_TIMEOUT,
        )

    def sign_up(self) -> requests.Response:
        """The sign-up form: the gateway mails a verification link."""
        data = {"email": self.email, "password": self.password}
        return self.post_form("/signup", "/signup", data)

    def verify(self) -> requests.Response:
        """Open the link in the developer mailbox and confirm it (the browser that signed up
        is asked no password again and is signed in after)."""
        link = self.mailed_link("/verify-email?token=")
        confirm = self.http.get(link, timeout=_TIMEOUT).text
        token = re.search(r'name="token" value="([^"]+)"', confirm)
        assert token, "no token on the confirmation page"
        return self.http.post(
            self.base + "/verify-email",
            data={"csrf_token": csrf_from(confirm), "token": html.unescape(token.group(1))},
            timeout=_TIMEOUT,
        )

    def mailed_link(self, marker: str, to: str | None = None) -> str:
        """The newest link containing ``marker`` in a mail to this person (or to ``to``)."""
        mailbox = self.get("/dev/mailbox").text
        for article in re.findall(r"<article.*?</article>", mailbox, re.S):
            if f'data-recipient="{to or self.email}"' not in article:
                continue
            found = re.search(r'href="([^"]*' + re.escape(marker) + r'[^"]*)"', article)
            if found:
                return html.unescape(found.group(1))
        raise AssertionError(f"no mail to {to or self.email} with {marker}")

    def sign_in(self, password: str | None = None) -> requests.Response:
        return self.post_form(
            "/login", "/login", {"email": self.email, "password": password or self.password}
        )

    def sign_up_and_verify(self) -> Person:
        """Signed up and in: the link, confirmed in the browser that signed up, signs it in."""
        answer = self.sign_up()
        assert answer.status_code == 200, answer.text[:500]
        answer = self.verify()
        assert answer.status_code == 200, answer.text[:500]
        assert self.signed_in()
        return self

    def sign_out(self) -> requests.Response:
        return self.post_form("/", "/logout", {})

    def create_product_user(self, product: str) -> None:
        """First visit to an unlinked product: "create new user" on the choice page."""
        page, action = f"/link/{product}", f"/link/{product}/new"
        answer = self.post_form(page, action, {"next": f"/{product}/"})
        assert answer.status_code == 302, answer.text[:500]

    def signed_in(self) -> bool:
        """A Console page answers (not a redirect to the login page)."""
        answer = self.get("/settings")
        assert answer.status_code in (200, 302), answer.status_code
        return answer.status_code == 200

    def reauthenticate(self) -> None:
        answer = self.post_form(
            "/settings/reauthenticate", "/settings/reauthenticate",
            {"password": self.password, "next": "/settings"},
        )
        assert answer.status_code == 302, answer.text[:500]

    def change_password(self, new: str) -> None:
        self.reauthenticate()
        answer = self.post_form("/settings/password", "/settings/password", {"password": new})
        assert answer.status_code == 302, answer.text[:500]
        self.password = new
