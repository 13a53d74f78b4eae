"""Errors that decide what happens to a message that could not be handled."""


class PermanentError(Exception):
    """The message can never be handled as it is: it goes to the dead-letter topic at once."""


class NotYetKnown(Exception):
    """The message refers to something not known yet: it is retried, not rejected."""


class DomainError(Exception):
    """A rule of the domain refused a command.

    ``message`` is for the person (in Russian, the language of the workspace and of the portals'
    users); ``code`` is the rule's stable name (UPPER_SNAKE_CASE, e.g. ``NETWORK_CLOSED``) for a
    program to act on, which never changes when the wording does; ``field`` names the input at
    fault, if any."""

    def __init__(self, message: str, *, code: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.field = field


class NotFound(LookupError):
    """What a query asked about does not exist (here): ``extensions.code`` NOT_FOUND."""
