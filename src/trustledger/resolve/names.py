"""The forms a name, a birth date, an address and a phone number are compared in.

Providers write one person's name as characters (张伟), as pinyin in Chinese order
(``Zhang Wei``), in Western order (``Wei ZHANG``), with or without tone marks, ü as ``v``,
``yu`` or ``u:``. :func:`name_forms` reduces each of these to keys the matcher compares:

>>> name_forms("张伟")
NameForms(hanzi='张伟', pinyin='zhangwei', tokens='wei zhang')
>>> name_forms("WEI, Zhang")
NameForms(hanzi=None, pinyin='weizhang', tokens='wei zhang')
>>> {name_forms(n).pinyin for n in ("Lü Xiaoming", "LYU Xiaoming", "吕晓明")}
{'lvxiaoming'}

``pinyin`` keeps the order the name was written in; ``tokens`` is the surname and the
given name as two sorted words, so the two orders meet. Heteronymic surnames take their
surname reading (曾 is *zeng*, 单 *shan*, 解 *xie*), which a dictionary of words gets wrong.

Nothing here reads the clock or a database: the same input always gives the same keys.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Final

from pypinyin import Style, lazy_pinyin

__all__ = [
    "COMPOUND_SURNAMES",
    "NameForms",
    "address_key",
    "birth_date_key",
    "name_forms",
    "phone_key",
]

#: Two-character surnames: the given name starts after them.
COMPOUND_SURNAMES: Final = frozenset(
    "欧阳 司马 上官 诸葛 东方 皇甫 尉迟 公孙 慕容 长孙 宇文 司徒 夏侯 令狐 万俟 西门 "
    "南宫 端木 独孤 轩辕 申屠 呼延 澹台 公冶 太史 钟离 闻人 第五".split()
)

#: Surnames whose reading differs from the character's most common one.
_SURNAME_READINGS: Final = {
    "曾": "zeng",
    "单": "shan",
    "解": "xie",
    "仇": "qiu",
    "朴": "piao",
    "查": "zha",
    "区": "ou",
    "盖": "ge",
    "乐": "yue",
    "翟": "zhai",
    "缪": "miao",
    "召": "shao",
    "秘": "bi",
    "种": "chong",
    "员": "yun",
    "贲": "ben",
    "尉迟": "yuchi",
    "万俟": "moqi",
    "长孙": "zhangsun",
    "重": "chong",
    "覃": "qin",
    "繁": "po",
}

_HAN: Final = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
# ü and its spellings: "lü", "lu:", "lyu", "lv" are one syllable.
_UMLAUT: Final = (("ü", "v"), ("u:", "v"), ("lyu", "lv"), ("nyu", "nv"))
_NOT_LETTER: Final = re.compile(r"[^a-z ]+")
_SPACES: Final = re.compile(r"\s+")
# Between the words of a Western-style name: "WEI, Zhang", "Zhang-Wei", "Zhang·Wei".
_SEPARATORS: Final = re.compile(r"[,，.·・\-‐_/]+")


@dataclass(frozen=True, slots=True)
class NameForms:
    """The keys a name is compared on; ``None`` forms are unknown, not empty."""

    #: The name in characters, without spaces or dots (``None`` for a romanised name).
    hanzi: str | None
    #: Toneless pinyin, lower case, in the order written, no spaces: ``zhangwei``.
    pinyin: str
    #: The words of the name (surname, given name) sorted: ``wei zhang``.
    tokens: str


def _fold(text: str) -> str:
    """NFKC, lower case, tone marks off (ü kept as v)."""
    text = unicodedata.normalize("NFKC", text).lower()
    for old, new in _UMLAUT[:2]:
        text = text.replace(old, new)
    decomposed = unicodedata.normalize("NFD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _syllables(chars: str) -> list[str]:
    return [s.lower() for s in lazy_pinyin(chars, style=Style.NORMAL, errors="ignore")]


@lru_cache(maxsize=200_000)
def name_forms(name: str, *, person: bool = True) -> NameForms | None:
    """The forms of a person's (or, with ``person=False``, an organisation's) name;
    ``None`` when nothing of it is left to compare (an empty or punctuation-only name).
    An organisation's name has no surname: its ``tokens`` are its ``pinyin``. Cached:
    names repeat."""
    text = unicodedata.normalize("NFKC", name).strip()
    if not text:
        return None
    han = "".join(_HAN.findall(text))
    if han and not person:
        pinyin = _umlaut("".join(_syllables(han)))
        return NameForms(han, pinyin, pinyin)
    if han:
        surname_len = 2 if han[:2] in COMPOUND_SURNAMES else 1
        surname, given = han[:surname_len], han[surname_len:]
        reading = _SURNAME_READINGS.get(surname)
        first = [reading] if reading else _syllables(surname)
        rest = _syllables(given)
        words = ["".join(first), "".join(rest)] if rest else ["".join(first)]
        pinyin = "".join(first + rest)
        return NameForms(han, _umlaut(pinyin), " ".join(sorted(_umlaut(w) for w in words if w)))
    folded = _SEPARATORS.sub(" ", _fold(text))
    folded = _SPACES.sub(" ", _NOT_LETTER.sub("", folded.replace("'", ""))).strip()
    if not folded:
        return None
    words = [_umlaut(w) for w in folded.split(" ")]
    pinyin = "".join(words)
    return NameForms(None, pinyin, " ".join(sorted(words)) if person else pinyin)


def _umlaut(text: str) -> str:
    for old, new in _UMLAUT[2:]:
        text = text.replace(old, new)
    return text


_ADDRESS_PREFIX: Final = re.compile(r"^.{0,12}?(?:省|自治区|特别行政区)")
_CITY_PREFIX: Final = re.compile(r"^.{0,8}?市(?=.{0,6}?(?:区|县|旗))")
_ADDRESS_NOISE: Final = re.compile(r"[\s,，.。·\-‐#＃()（）]+")


def address_key(address: str | None) -> str | None:
    """An address without its province and city (providers write them, or not), spaces
    and punctuation; letters lower-cased and digits plain (NFKC). ``None`` when empty.

    >>> address_key("广东省深圳市南山区 人民路１号")
    '南山区人民路1号'
    >>> address_key("深圳市南山区人民路1号") == address_key("南山区人民路1号")
    True
    """
    if address is None:
        return None
    text = _ADDRESS_NOISE.sub("", unicodedata.normalize("NFKC", address).lower())
    text = _ADDRESS_PREFIX.sub("", text)
    text = _CITY_PREFIX.sub("", text)
    return text or None


def phone_key(phone: str | None) -> str | None:
    """The digits of a phone number without a +86 / 0086 country prefix; ``None`` when
    fewer than 7 digits are left (not a number anyone can be called on).

    >>> phone_key("+86 138-0013-8000")
    '13800138000'
    >>> phone_key("0755-2345 6789")
    '075523456789'
    """
    if phone is None:
        return None
    digits = "".join(ch for ch in unicodedata.normalize("NFKC", phone) if ch.isdigit())
    if digits.startswith("0086"):
        digits = digits[4:]
    elif digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    return digits if len(digits) >= 7 else None


def birth_date_key(day: date | None) -> str | None:
    """A birth date as ``YYYY-MM-DD`` text, the form the matcher compares characters of
    (a swapped day and month, one mistyped digit)."""
    return day.isoformat() if day is not None else None
