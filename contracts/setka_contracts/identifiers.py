"""Check digits of the Russian identifiers the contracts carry: ИНН and ОГРН of an organization,
СНИЛС of a person."""

from __future__ import annotations

_INN_WEIGHTS = (2, 4, 10, 3, 5, 9, 4, 6, 8)


def inn_check_digit(first_nine: str) -> str:
    """The tenth digit of an organization's ИНН, from its first nine."""
    return str(sum(int(d) * w for d, w in zip(first_nine, _INN_WEIGHTS, strict=True)) % 11 % 10)


def ogrn_check_digit(first_twelve: str) -> str:
    """The thirteenth digit of an ОГРН: the first twelve as a number, mod 11, mod 10."""
    return str(int(first_twelve) % 11 % 10)


def inn_problem(value: str) -> str | None:
    """Why ``value`` is not an organization's ИНН, or None when it is one."""
    if len(value) != 10 or not value.isdigit() or not value.isascii():
        return "ИНН of an organization must be exactly 10 digits"
    if inn_check_digit(value[:9]) != value[9]:
        return "ИНН checksum does not match: check the digits"
    return None


def ogrn_problem(value: str) -> str | None:
    """Why ``value`` is not an organization's ОГРН, or None when it is one."""
    if len(value) != 13 or not value.isdigit() or not value.isascii():
        return "ОГРН of an organization must be exactly 13 digits"
    if ogrn_check_digit(value[:12]) != value[12]:
        return "ОГРН checksum does not match: check the digits"
    return None


def normalised_snils(value: str) -> str:
    """СНИЛС as its 11 digits: the usual ``123-456-789 01`` with its hyphens and spaces taken out."""
    return "".join(ch for ch in value if ch not in "- \u00a0")


def snils_check_number(first_nine: str) -> str:
    """The two check digits of a СНИЛС from its first nine (the Pension Fund's rule)."""
    total = sum(int(d) * w for d, w in zip(first_nine, range(9, 0, -1), strict=True))
    if total > 101:
        total %= 101
    return "00" if total in (100, 101) else f"{total:02d}"


def snils_problem(value: str) -> str | None:
    """Why ``value`` (normalised) is not a СНИЛС, or None when it is one. Numbers up to
    001-001-998 were issued before check digits and are not checked."""
    if len(value) != 11 or not value.isdigit() or not value.isascii():
        return "СНИЛС must be 11 digits (123-456-789 01)"
    if int(value[:9]) > 1001998 and snils_check_number(value[:9]) != value[9:]:
        return "СНИЛС check digits do not match: check the number"
    return None
