"""English and Simplified Chinese for the pages.

Templates mark text with ``{% trans %}`` and ``_()``; ``pybabel extract`` collects it into
``web/locale/messages.pot`` and the Chinese catalogue is ``web/locale/zh/LC_MESSAGES/
messages.po`` (docs/web.md says how to update them). The catalogue is compiled in memory
the first time a page needs it: no build step, no binary file in the repository.

Dates and numbers are formatted by Babel for the page's language. What the policy file
says (record type titles, legal bases, grade meanings) is shown as the policy wrote it.
"""

from __future__ import annotations

import io
from datetime import date, datetime, tzinfo
from functools import cache
from pathlib import Path
from typing import Any

from babel import Locale
from babel.dates import format_date, format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from babel.support import NullTranslations, Translations

from trustledger.domain.duration import Duration

__all__ = ["LANGUAGES", "Lang", "choose", "lang"]

LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"

#: The page languages: code -> (Babel locale, the language's own name, HTML lang).
LANGUAGES: dict[str, tuple[str, str, str]] = {
    "en": ("en_GB", "English", "en"),
    "zh": ("zh_Hans_CN", "简体中文", "zh-Hans"),
}
DEFAULT = "en"


class Lang:
    """One language: its gettext functions and its formatters."""

    def __init__(
        self, code: str, translations: NullTranslations, zone: tzinfo | None = None
    ) -> None:
        self.code = code
        self.locale_name, self.name, self.html = LANGUAGES[code]
        self.locale = Locale.parse(self.locale_name)
        self.translations = translations
        #: Times are shown in the jurisdiction's zone (the policy's), not the server's.
        self.zone = zone

    def at(self, zone: tzinfo) -> Lang:
        """The same language, showing times in ``zone``."""
        return Lang(self.code, self.translations, zone)

    @property
    def sep(self) -> str:
        """Between the items of a list: ", " or "、"."""
        return "、" if self.code == "zh" else ", "

    @property
    def comma(self) -> str:
        """Between two different facts: ", " or "，"."""
        return "，" if self.code == "zh" else ", "

    @property
    def colon(self) -> str:
        return "：" if self.code == "zh" else ": "

    def gettext(self, message: str, **values: Any) -> str:
        text = self.translations.gettext(message)
        return text % values if values else text

    def ngettext(self, singular: str, plural: str, n: int, **values: Any) -> str:
        text = self.translations.ngettext(singular, plural, n)
        return text % {"num": n, **values}

    def date(self, value: date | str | None, fmt: str = "medium") -> str:
        if value is None or value == "":
            return ""
        if isinstance(value, str):
            value = datetime.fromisoformat(value) if "T" in value else date.fromisoformat(value)
        if isinstance(value, datetime):
            return format_datetime(value, "medium", tzinfo=self.zone, locale=self.locale)
        return format_date(value, fmt, locale=self.locale)

    def number(self, value: float | int | str | None, places: int | None = None) -> str:
        if value is None or value == "":
            return ""
        pattern = None if places is None else "#,##0." + "0" * places if places else "#,##0"
        return format_decimal(float(value), format=pattern, locale=self.locale)

    def duration(self, value: Duration | None) -> str:
        """``Duration(months=18)`` -> "1 year 6 months" (English), "1年6个月" (Chinese)."""
        if value is None:
            return ""
        years, months = divmod(value.months, 12)
        parts = []
        if years:
            parts.append(self.ngettext("%(num)d year", "%(num)d years", years))
        if months:
            parts.append(self.ngettext("%(num)d month", "%(num)d months", months))
        if value.days or not parts:
            parts.append(self.ngettext("%(num)d day", "%(num)d days", value.days))
        return ("" if self.code == "zh" else " ").join(parts)

    def signed(self, value: float | int) -> str:
        """Points with their sign, a real minus: "+20", "−37.5", "0"."""
        v = float(value)
        text = self.number(abs(v), 2 if v != int(v) else 0)
        return ("+" if v > 0 else "\u2212" if v < 0 else "") + text


@cache
def _translations(code: str) -> NullTranslations:
    po = LOCALE_DIR / code / "LC_MESSAGES" / "messages.po"
    if not po.is_file():
        return NullTranslations()
    with po.open("rb") as f:
        catalog = read_po(f, locale=LANGUAGES[code][0])
    buf = io.BytesIO()
    write_mo(buf, catalog, use_fuzzy=False)
    buf.seek(0)
    return Translations(buf)


@cache
def lang(code: str) -> Lang:
    return Lang(code, _translations(code))


def choose(query: str | None, cookie: str | None, accept_language: str | None) -> str:
    """The page language: ``?lang=`` first, then the ``lang`` cookie, then the browser's
    ``Accept-Language`` (the first of its languages we have), then English.

    >>> choose(None, None, "zh-CN,zh;q=0.9,en;q=0.8")
    'zh'
    >>> choose("en", "zh", None)
    'en'
    >>> choose(None, None, "fr-FR,fr;q=0.9")
    'en'
    >>> choose(None, None, "en;q=0.1, zh-CN;q=0.9")
    'zh'
    """
    for given in (query, cookie):
        if given in LANGUAGES:
            return given
    ranked: list[tuple[float, int, str]] = []
    for i, part in enumerate((accept_language or "").split(",")):
        tag, *params = (p.strip() for p in part.split(";"))
        weight = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    weight = float(value)
                except ValueError:
                    weight = 0.0
        primary = tag.lower().split("-")[0]
        if primary in LANGUAGES and weight > 0:
            ranked.append((-weight, i, primary))
    return min(ranked)[2] if ranked else DEFAULT
