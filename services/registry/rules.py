"""Rules of the registry, as plain functions that raise :class:`DomainError`."""

from __future__ import annotations

import re

from setka_runtime.errors import DomainError

_INN_WEIGHTS = (2, 4, 10, 3, 5, 9, 4, 6, 8)


def check_inn(inn: str, *, field: str = "inn") -> str:
    """An organization's ИНН: 10 digits whose last one is the checksum of the first nine."""
    value = inn.strip()
    if not re.fullmatch(r"\d{10}", value):
        raise DomainError("ИНН of an organization must be exactly 10 digits", field=field)
    checksum = sum(int(d) * w for d, w in zip(value, _INN_WEIGHTS, strict=False)) % 11 % 10
    if checksum != int(value[9]):
        raise DomainError("ИНН checksum does not match: check the digits", field=field)
    return value


def check_region_code(code: str) -> str:
    value = code.strip()
    if not re.fullmatch(r"\d{2,3}", value):
        raise DomainError("region code is the 2-digit code of the subject, e.g. 39", field="regionCode")
    return value


def check_name(name: str, *, field: str, limit: int) -> str:
    value = " ".join(name.split())
    if not value:
        raise DomainError("must not be empty", field=field)
    if len(value) > limit:
        raise DomainError(f"must be at most {limit} characters", field=field)
    return value
