"""The forms names, addresses and phones are compared in (pure; no database)."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trustledger.resolve.names import (
    NameForms,
    address_key,
    birth_date_key,
    name_forms,
    phone_key,
)


@pytest.mark.parametrize(
    "written",
    [
        "张伟",
        "Zhang Wei",
        "ZHANG Wei",
        "zhang wei",
        "Zhāng Wěi",
        "  Zhang   Wei ",
        "Ｚｈａｎｇ Ｗｅｉ",
    ],
)
def test_characters_and_pinyin_meet_on_one_key(written: str) -> None:
    forms = name_forms(written)
    assert forms is not None
    assert (forms.pinyin, forms.tokens) == ("zhangwei", "wei zhang")


@pytest.mark.parametrize("written", ["Wei Zhang", "WEI, Zhang", "Wei-Zhang", "Wei·Zhang"])
def test_western_order_keeps_the_words_but_not_the_order(written: str) -> None:
    forms = name_forms(written)
    assert forms is not None and forms.pinyin == "weizhang" and forms.tokens == "wei zhang"


def test_characters_are_kept_only_when_written() -> None:
    assert name_forms("张伟") == NameForms("张伟", "zhangwei", "wei zhang")
    assert name_forms("张 伟") == NameForms("张伟", "zhangwei", "wei zhang")
    assert name_forms("Zhang Wei") == NameForms(None, "zhangwei", "wei zhang")


@pytest.mark.parametrize(
    ("hanzi", "pinyin"),
    [
        ("曾国藩", "zengguofan"),  # not ceng
        ("单田芳", "shantianfang"),  # not dan
        ("覃海", "qinhai"),  # not tan
        ("解缙", "xiejin"),  # not jie
        ("欧阳娜娜", "ouyangnana"),
        ("吕晓明", "lvxiaoming"),
    ],
)
def test_surnames_take_their_surname_reading(hanzi: str, pinyin: str) -> None:
    forms = name_forms(hanzi)
    assert forms is not None and forms.pinyin == pinyin


def test_compound_surnames_are_one_word() -> None:
    assert name_forms("欧阳娜娜") == NameForms("欧阳娜娜", "ouyangnana", "nana ouyang")
    assert name_forms("Ouyang Nana") == NameForms(None, "ouyangnana", "nana ouyang")


@pytest.mark.parametrize("written", ["Lü Xiaoming", "LYU Xiaoming", "Lu: Xiaoming", "Lv Xiaoming"])
def test_every_spelling_of_u_umlaut_is_v(written: str) -> None:
    forms = name_forms(written)
    assert forms is not None and forms.pinyin == "lvxiaoming"


def test_an_organisation_has_no_surname() -> None:
    assert name_forms("深圳华信贸易有限公司", person=False) == NameForms(
        "深圳华信贸易有限公司",
        "shenzhenhuaxinmaoyiyouxiangongsi",
        "shenzhenhuaxinmaoyiyouxiangongsi",
    )
    romanised = name_forms("Shenzhen Huaxin Maoyi Youxian Gongsi", person=False)
    assert romanised is not None
    assert romanised.pinyin == romanised.tokens == "shenzhenhuaxinmaoyiyouxiangongsi"


@pytest.mark.parametrize("written", ["", "   ", "-", "·,"])
def test_nothing_to_compare_is_none(written: str) -> None:
    assert name_forms(written) is None


@given(st.text(max_size=30))
def test_any_text_gives_none_or_lower_case_letters(text: str) -> None:
    forms = name_forms(text)
    if forms is not None:
        assert forms.pinyin == forms.pinyin.lower()
        assert " " not in forms.pinyin
        assert sorted(forms.tokens.split(" ")) == forms.tokens.split(" ")


def test_addresses_drop_province_city_and_punctuation() -> None:
    same = {
        address_key("广东省深圳市南山区人民路1号"),
        address_key("深圳市南山区 人民路１号"),
        address_key("南山区人民路1号"),
    }
    assert same == {"南山区人民路1号"}
    assert address_key("上海市浦东新区学府路9号3栋") == "浦东新区学府路9号3栋"
    assert address_key("  ") is None and address_key(None) is None


def test_phones_are_digits_without_the_country_code() -> None:
    assert phone_key("+86 138-0013-8000") == "13800138000"
    assert phone_key("0086 13800138000") == "13800138000"
    assert phone_key("8613800138000") == "13800138000"
    assert phone_key("0755-2345 6789") == "075523456789"
    assert phone_key("12345") is None and phone_key(None) is None


def test_birth_dates_are_compared_as_text() -> None:
    assert birth_date_key(date(1985, 4, 12)) == "1985-04-12"
    assert birth_date_key(None) is None
