"""What an organization service answers instead of doing the work.

:class:`NotFound` is also what a person outside the organization gets for anything in it (a
404, never a 403): an id from another organization tells its holder nothing, not even that
it exists.
"""

from __future__ import annotations


class NotFound(LookupError):
    """No such organization, member or invitation, as far as the asking account may know."""


class NotAllowed(Exception):
    """The account's role in the organization does not allow this."""


class Refused(Exception):
    """The action cannot be done as asked; ``message`` says why, in words for the page."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
