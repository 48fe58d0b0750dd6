"""A policy's texts in other languages (``[translations.LANG]``): which texts may be
translated, the errors for the others, and what the pages show."""

from __future__ import annotations

import pytest

from tests.conftest import EXAMPLE_POLICY
from trustledger.errors import PolicyError
from trustledger.policy.load import load_policy, parse_policy
from trustledger.policy.schema import translatable_texts

TEXT = EXAMPLE_POLICY.read_text(encoding="utf-8")


def with_section(section: str) -> str:
    return TEXT + "\n" + section


def test_the_example_policy_translates_every_text_into_chinese() -> None:
    policy = load_policy(EXAMPLE_POLICY).policy
    texts = translatable_texts(policy)
    zh = policy.translations["zh"]
    assert set(zh) == set(texts)
    assert (
        policy.text("zh", "record_types.fare_evasion.title", "?")
        != texts["record_types.fare_evasion.title"]
    )
    # A language without a translation, or a text without one, is the policy's own.
    assert policy.text("fr", "policy.title", "own") == "own"


def test_a_translation_of_something_that_is_not_a_text_names_it() -> None:
    source = with_section('[translations.de]\n"record_types.fare_evasion.points" = "zehn"\n')
    with pytest.raises(PolicyError) as err:
        parse_policy(source, filename="city.toml")
    message = str(err.value)
    assert 'translations.de."record_types.fare_evasion.points"' in message
    assert "not a text of this policy that can be translated" in message


def test_a_translation_of_an_unknown_record_type_or_an_empty_one_is_refused() -> None:
    source = with_section(
        '[translations.de]\n"record_types.no_such_type.title" = "x"\n"policy.title" = " "\n'
    )
    with pytest.raises(PolicyError) as err:
        parse_policy(source, filename="city.toml")
    message = str(err.value)
    assert "record_types.no_such_type.title" in message
    assert "the translation is empty" in message


def test_a_language_is_a_code() -> None:
    source = with_section('[translations."Chinese please"]\n"policy.title" = "x"\n')
    with pytest.raises(PolicyError, match="a language is a code"):
        parse_policy(source, filename="city.toml")


def test_legal_bases_are_not_translated() -> None:
    policy = load_policy(EXAMPLE_POLICY).policy
    assert not any(key.endswith(".legal_basis") for key in translatable_texts(policy))
