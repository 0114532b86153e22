"""What can be wrong with a request to a reader's library; each message is fit to show."""

from __future__ import annotations

from sciseek.errors import BadInput


class LibraryError(BadInput, ValueError):
    """Bad library input (a tag name, a note, a limit reached); the message says what."""


class UnknownTag(LibraryError, LookupError):
    """The reader has no tag of that name."""

    status = 404


class UnknownPaper(LibraryError, LookupError):
    """No paper with that id in the store (or not saved, where a saved paper is needed)."""

    status = 404


class TagExists(LibraryError):
    """A rename onto a tag the reader already has."""

    status = 409
