"""Errors that decide what happens to a message that could not be handled."""


class PermanentError(Exception):
    """The message can never be handled as it is: it goes to the dead-letter topic at once."""


class NotYetKnown(Exception):
    """The message refers to something not known yet: it is retried, not rejected."""


class DomainError(Exception):
    """A rule of the domain refused a command; ``field`` names the input at fault, if any."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class NotFound(LookupError):
    """What a query asked about does not exist (here): ``extensions.code`` NOT_FOUND."""
