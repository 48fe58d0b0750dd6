"""Identifier validation for tools and integrations: the public face of
:mod:`trustledger.domain.identifiers`.

>>> from trustledger.identifiers import validate
>>> validate("uscc", "91350100-M000100Y4-3")
'91350100M000100Y43'
"""

from trustledger.domain.identifiers import (
    BUILTIN_KINDS,
    RIC_EARLIEST_BIRTH_YEAR,
    USCC_CHARSET,
    make_ric,
    make_uscc,
    normalise,
    org_code_check_character,
    ric_birth_date,
    ric_check_digit,
    ric_sex,
    subject_kind_for,
    uscc_check_character,
    validate,
)

__all__ = [
    "BUILTIN_KINDS",
    "RIC_EARLIEST_BIRTH_YEAR",
    "USCC_CHARSET",
    "make_ric",
    "make_uscc",
    "normalise",
    "org_code_check_character",
    "ric_birth_date",
    "ric_check_digit",
    "ric_sex",
    "subject_kind_for",
    "uscc_check_character",
    "validate",
]
