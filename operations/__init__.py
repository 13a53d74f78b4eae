"""``setka``: the operator's command (status, migrate, topics, seed, import, token, dlq, backup,
restore, replay).

It reads the same environment variables the processes read (see the README's "Configuration"), so
the same command works against ``make run`` (the defaults), a Compose stack (``docker compose exec
gateway setka …``, or from the host with the published ports) and a cluster. :mod:`.cli` is the
entry point; each command's work is in a module of its own, imported only when the command runs,
so ``setka --help`` answers at once.
"""


class ConfigurationError(ValueError):
    """The environment's settings cannot be used as they are (``setka`` exits with status 2)."""
