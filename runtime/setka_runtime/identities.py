"""What Setka keeps of a СНИЛС: a keyed hash, never the number.

The registry and the events service hash with the same secret (``SNILS_HMAC_KEY``), so a fact
that names an educator by СНИЛС finds the educator the registry registered with it. Without the
secret nobody can compute the hash from a number, nor the number from the hash.
"""

from __future__ import annotations

import hashlib
import hmac

from setka_contracts.identifiers import normalised_snils, snils_problem


class SnilsRefused(ValueError):
    """Not a СНИЛС (the message says why, without the number)."""


def snils_hash(snils: str, key: str) -> str:
    """HMAC-SHA256 (hex) of the normalised СНИЛС under ``key``; :class:`SnilsRefused` if the number
    is not a valid СНИЛС."""
    number = normalised_snils(snils.strip())
    if problem := snils_problem(number):
        raise SnilsRefused(problem)
    return hmac.new(key.encode(), number.encode(), hashlib.sha256).hexdigest()
