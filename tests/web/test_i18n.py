"""The pages in Chinese: the catalogue is complete, fresh and well formed, and the loader
the server uses reads it.

The English texts are extracted from the sources exactly as ``babel.cfg`` says (the same
extraction as ``pybabel extract``); every one must have a Chinese translation in
``web/locale/zh/LC_MESSAGES/messages.po``, and the catalogue must hold nothing else. No
database, no server: this runs in well under a second.
"""

from __future__ import annotations

import doctest
import re
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from trustledger.domain.duration import Duration
from trustledger.web.pages import i18n
from trustledger.web.pages.i18n import LANGUAGES, choose, lang

ROOT = Path(__file__).resolve().parents[2]
LOCALE = ROOT / "src" / "trustledger" / "web" / "locale"
POT = LOCALE / "messages.pot"
PO = LOCALE / "zh" / "LC_MESSAGES" / "messages.po"
#: The functions that mark a text, as ``pybabel extract -k`` is given them.
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None}

HOW_TO_UPDATE = f"""
Update the catalogue (docs/web.md, "Translations"), from {ROOT}:

    pybabel extract -F babel.cfg -k _ -k gettext -k ngettext:1,2 -k N_ --no-location \\
        --sort-output --project trustledger --version 0.1 -o {POT.relative_to(ROOT)} .
    pybabel update -i {POT.relative_to(ROOT)} -o {PO.relative_to(ROOT)} -l zh_Hans_CN

then translate the new entries in messages.po, and drop the "#, fuzzy" flags pybabel update
puts on its guesses once each guess is checked."""

PLACEHOLDER = re.compile(r"%\((\w+)\)[-#0 +]*\d*(?:\.\d+)?[a-zA-Z]")
TAG = re.compile(r"</?[a-zA-Z][^>]*>")
CJK = re.compile(r"[\u3400-\u9fff]")
#: ASCII punctuation touching a Chinese character: Chinese text takes the full-width
#: forms (，。；：？！（）).
HALF_WIDTH = re.compile(r"[\u3400-\u9fff][,.;:?!()]|[,;:?!()][\u3400-\u9fff]")

MsgId = str | tuple[str, str]
#: How Babel types a message's id and its translations.
Texts = str | tuple[str, ...] | list[str]

#: ``babel.cfg`` -> (method map, options map); Babel leaves this function unannotated.
parse_cfg: Callable[..., tuple[list[tuple[str, str]], dict[str, dict[str, Any]]]]
parse_cfg = parse_mapping_cfg


def _key(texts: Texts) -> str:
    """The (singular) msgid."""
    return texts if isinstance(texts, str) else texts[0]


def _all(texts: Texts | None) -> list[str]:
    """A msgid (singular and plural) or the translations, as a list."""
    if texts is None or isinstance(texts, str):
        return [texts or ""]
    return [t or "" for t in texts]


@cache
def extracted() -> dict[str, MsgId]:
    """Every text the pages mark for translation, by its (singular) msgid."""
    with (ROOT / "babel.cfg").open(encoding="utf-8") as f:
        method_map, options_map = parse_cfg(f, "babel.cfg")
    # Walk only the folders a babel.cfg pattern can reach (not var/, .venv/ ...).
    roots = []
    for pattern, _method in method_map:
        fixed = pattern.split("*")[0].rsplit("/", 1)[0]
        roots.append(ROOT / fixed)

    def wanted(path: str) -> bool:
        p = Path(path)
        if p.name.startswith((".", "_")):
            return False
        return any(p == r or r in p.parents or p in r.parents for r in roots)

    found: dict[str, MsgId] = {}
    for _file, _line, message, _comments, _context in extract_from_dir(
        ROOT, method_map, options_map, keywords=KEYWORDS, directory_filter=wanted
    ):
        # Babel gives a plural as a tuple (singular, plural) and a plain text as a string.
        msgid: MsgId = (message[0], message[1]) if isinstance(message, tuple) else message
        if _key(msgid):
            found[_key(msgid)] = msgid
    return found


@cache
def catalogue() -> Catalog:
    with PO.open("rb") as f:
        return read_po(f, locale="zh_Hans_CN")


def translated() -> Iterator[tuple[Message, list[str]]]:
    """Each message of the catalogue with its translations (one for a plural: nplurals=1)."""
    for message in catalogue():
        if message.id:
            yield message, _all(message.string)


def _show(problems: list[str]) -> str:
    return "\n".join(f"  {p}" for p in problems)


def test_the_sources_have_messages() -> None:
    """The extraction itself works (an empty result would make every check below pass)."""
    found = extracted()
    assert len(found) > 300
    assert found["Sign in"] == "Sign in"
    assert found["%(num)d year"] == ("%(num)d year", "%(num)d years")
    # From a {% trans %} block with a variable, trimmed; from Python; with an HTML link.
    assert "A score never goes below %(floor)s." in found
    assert "Enter a sign-in code or an API key." in found
    assert any('<a href="/docs">' in m for m in found)


def test_catalogue_header() -> None:
    catalog = catalogue()
    assert PO.is_file()
    assert str(catalog.locale) == "zh_Hans_CN"
    assert catalog.num_plurals == 1
    assert catalog.plural_expr == "0"
    assert not catalog.fuzzy, "the header of messages.po is flagged fuzzy"
    headers = dict(catalog.mime_headers)
    assert headers["Language"] == "zh_Hans_CN"
    assert headers["Plural-Forms"] == "nplurals=1; plural=0;"
    assert "FULL NAME" not in headers["Last-Translator"]
    assert "LANGUAGE" not in headers["Language-Team"]


def test_every_page_message_has_a_chinese_translation() -> None:
    catalog = catalogue()
    problems = []
    for key, msgid in sorted(extracted().items()):
        message = catalog.get(key)
        if message is None:
            problems.append(f"missing: {key!r}")
        elif message.fuzzy:
            problems.append(f"fuzzy: {key!r}")
        elif isinstance(msgid, tuple) != isinstance(message.id, tuple):
            problems.append(f"plural in one and not the other: {key!r}")
        elif isinstance(msgid, tuple) and msgid != message.id:
            problems.append(f"stale plural {message.id!r}, the source says {msgid!r}")
        elif not all(s.strip() for s in _all(message.string)):
            problems.append(f"untranslated: {key!r}")
    assert not problems, (
        f"{len(problems)} page message(s) without a Chinese translation:\n"
        + _show(problems)
        + HOW_TO_UPDATE
    )


def test_plurals_have_exactly_one_form() -> None:
    """With nplurals=1 a plural has only ``msgstr[0]`` (Babel drops any other form while
    reading, with a printed warning, so look at the file itself)."""
    extra = re.findall(r"^msgstr\[[1-9]\].*$", PO.read_text(encoding="utf-8"), re.MULTILINE)
    assert not extra, "messages.po has plural forms beyond msgstr[0]:\n" + _show(extra)
    plurals = [m for m in catalogue() if isinstance(m.id, tuple)]
    assert plurals
    assert all(len(_all(m.string)) == 1 for m in plurals)


def test_no_obsolete_or_unused_messages() -> None:
    catalog = catalogue()
    obsolete = sorted(str(key) for key in catalog.obsolete)
    assert not obsolete, "messages.po keeps obsolete (#~) entries; delete them:\n" + _show(obsolete)
    unused = sorted(str(m.id) for m in catalog if m.id and _key(m.id) not in extracted())
    assert not unused, (
        "messages.po translates texts the pages no longer have:\n" + _show(unused) + HOW_TO_UPDATE
    )


def test_placeholders_are_kept() -> None:
    """``%(name)s`` in, ``%(name)s`` out: a lost or renamed one raises a KeyError, or shows
    nothing, when the page is drawn. A lone ``%`` breaks Jinja's formatting of the text."""
    problems = []
    for message, strings in translated():
        wanted = sorted({p.group(0) for e in _all(message.id) for p in PLACEHOLDER.finditer(e)})
        for s in strings:
            got = sorted({p.group(0) for p in PLACEHOLDER.finditer(s)})
            if got != wanted:
                problems.append(f"{_key(message.id)!r}: {wanted} -> {got} in {s!r}")
            elif "%" in PLACEHOLDER.sub("", s).replace("%%", ""):
                problems.append(f"{_key(message.id)!r}: a stray % in {s!r}")
    assert not problems, "translations that change the placeholders:\n" + _show(problems)


def test_python_format_checks_pass() -> None:
    """Babel's own checks, as ``pybabel compile`` runs them."""
    errors = [
        f"{_key(message.id)!r}: {'; '.join(str(e) for e in errs)}"
        for message, errs in catalogue().check()
    ]
    assert not errors, "\n".join(errors)


def test_html_tags_are_kept() -> None:
    problems = []
    for message, strings in translated():
        wanted = sorted(TAG.findall(_all(message.id)[-1]))
        for s in strings:
            if sorted(TAG.findall(s)) != wanted:
                problems.append(f"{_key(message.id)!r}: {wanted} -> {sorted(TAG.findall(s))}")
    assert not problems, "translations that change the HTML tags:\n" + _show(problems)


def test_translations_are_chinese_with_chinese_punctuation() -> None:
    """Not the English copied over, and full-width punctuation in the Chinese text."""
    problems = []
    for message, strings in translated():
        for s in strings:
            text = TAG.sub("", PLACEHOLDER.sub("", s))
            if text.strip() and set(text.strip()) <= set("（）：，、。"):
                continue  # punctuation around placeholders only: "（%(role)s）"
            if not CJK.search(text):
                problems.append(f"{_key(message.id)!r}: no Chinese in {s!r}")
            elif HALF_WIDTH.search(text) or text.endswith("."):
                problems.append(f"{_key(message.id)!r}: half-width punctuation in {s!r}")
    assert not problems, _show(problems)


def test_the_loader_translates() -> None:
    zh, en = lang("zh"), lang("en")
    assert zh.gettext("Sign in") == "登录" != en.gettext("Sign in") == "Sign in"
    assert zh.gettext("Unified Social Credit Code") == "统一社会信用代码"
    assert zh.gettext("Score: %(score)s", score="812.50") == "信用分：812.50"
    assert en.gettext("Score: %(score)s", score="812.50") == "Score: 812.50"
    # A text with no translation falls back to the English.
    assert zh.gettext("no such text here") == "no such text here"


@pytest.mark.parametrize(
    ("n", "english", "chinese"), [(1, "1 case", "共1个案件"), (7, "7 cases", "共7个案件")]
)
def test_the_loader_formats_plurals(n: int, english: str, chinese: str) -> None:
    assert lang("en").ngettext("%(num)d case", "%(num)d cases", n) == english
    assert lang("zh").ngettext("%(num)d case", "%(num)d cases", n) == chinese


@pytest.mark.parametrize(
    ("value", "english", "chinese"),
    [
        (Duration(months=18), "1 year 6 months", "1年6个月"),
        (Duration(months=24), "2 years", "2年"),
        (Duration(months=1, days=3), "1 month 3 days", "1个月3天"),
        (Duration(days=90), "90 days", "90天"),
        (Duration(), "0 days", "0天"),
    ],
)
def test_durations(value: Duration, english: str, chinese: str) -> None:
    assert lang("en").duration(value) == english
    assert lang("zh").duration(value) == chinese


@pytest.mark.parametrize(
    ("query", "cookie", "accept", "expected"),
    [
        ("zh", "en", "en-GB,en;q=0.9", "zh"),  # ?lang= first
        ("en", "zh", "zh-CN", "en"),
        (None, "zh", "en-GB", "zh"),  # then the cookie
        (None, None, "zh-CN,zh;q=0.9,en;q=0.8", "zh"),  # then the browser
        (None, None, "zh-TW,zh;q=0.9", "zh"),  # Traditional asked: Simplified is what we have
        (None, None, "ZH-Hant-HK", "zh"),
        (None, None, "fr-FR, de;q=0.8, zh;q=0.5", "zh"),  # the first language we have
        (None, None, "fr-FR,fr;q=0.9", "en"),
        ("xx", "yy", "zh", "zh"),  # an unknown ?lang= or cookie is ignored
        (None, None, None, "en"),
        ("", "", "", "en"),
    ],
)
def test_choose(query: str | None, cookie: str | None, accept: str | None, expected: str) -> None:
    assert choose(query, cookie, accept) == expected
    assert expected in LANGUAGES


def test_i18n_doctests() -> None:
    result = doctest.testmod(i18n)
    assert result.attempted > 0
    assert result.failed == 0
