"""The policy linter: what a policy may not do even when it loads.

::

    >>> problems = lint_file("policies/example-city.toml")      # doctest: +SKIP
    >>> [str(p) for p in problems if p.severity == "error"]     # doctest: +SKIP
    []

A loaded policy is well-formed; this module checks that it is *acceptable*. It refuses
(severity ``"error"``):

* a record type, domain or list that scores a **protected category**: political opinion,
  speech or online commentary, religion or belief, ethnicity or origin, health, sexual
  life or orientation, trade union membership, family planning or family status. The
  vocabulary is data (:data:`PROTECTED_CATEGORIES`), matched in English and Simplified
  Chinese against names, titles and descriptions; ``docs/policy.md`` prints it;
* a measure, record type or list whose ``legal_basis`` is blank, and a domain in a
  measure's ``affected_by`` with a blank basis;
* a measure triggered by a record type whose domain is not in its ``affected_by``: a
  domain affecting the measure with no legal basis linking it.

It warns (severity ``"warning"``) about what is probably a mistake: a list used by a
measure whose entries come from domains the measure is not affected by, a domain with no
record types, a provider that may submit nothing the policy defines, a red list with no
threshold rule, and similar.

Every problem says FILE:LINE and a reason, like the loader's errors.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path as FilePath

from trustledger.domain.subject import SubjectKind
from trustledger.errors import PolicyError, PolicyProblem
from trustledger.policy.load import LoadedPolicy, load_policy
from trustledger.policy.locate import Path
from trustledger.policy.schema import Policy, check_references

__all__ = [
    "PROTECTED_CATEGORIES",
    "ProtectedCategory",
    "lint_file",
    "lint_policy",
    "protected_matches",
    "vocabulary_markdown",
]


@dataclass(frozen=True, slots=True)
class ProtectedCategory:
    """A category of personal life that no policy may score, and the words that name it.

    ``english`` terms are whole words, case-insensitive; a space (or ``_`` or ``-`` in the
    text) between words matches any of the three. A word ending in ``*`` matches any
    ending (``blog*``: blog, blogger, blogging); a term whose last word has no ``*`` may
    end in ``s``, ``es``, ``d``, ``ed``, ``ing``, ``er`` or ``ers`` (``post``: posts,
    posted, posting, but not postal or postpone). ``chinese`` terms match anywhere in the text.
    ``allowed`` phrases are legitimate uses that are blanked out before matching
    (``public health``, ``bankruptcy petition``, ``country of origin label``); they use
    the English syntax, or are Chinese phrases.
    """

    name: str
    english: tuple[str, ...]
    chinese: tuple[str, ...]
    allowed: tuple[str, ...] = ()


#: The protected categories. Changing them changes what policies may say: keep
#: ``docs/policy.md`` in step (a test compares it with :func:`vocabulary_markdown`).
PROTECTED_CATEGORIES: tuple[ProtectedCategory, ...] = (
    ProtectedCategory(
        name="political opinion",
        english=(
            "politic*",
            "opinion",
            "ideolog*",
            "dissent*",
            "dissident*",
            "protest",
            "party member*",
            "communist party",
            "patriot*",
            "unpatriotic",
            "subversi*",
            "separatis*",
            "counter revolution*",
            "human rights",
            "rights defen*",
            "rights lawyer*",
            "activis*",
        ),
        chinese=(
            "政治",
            "政见",
            "意识形态",
            "异见",
            "异议人士",
            "抗议",
            "游行",
            "示威",
            "党员",
            "爱国",
            "反党",
            "颠覆",
            "分裂国家",
        ),
        # An auditor's or a court's opinion on a company's accounts is not a belief;
        # a protested bill of exchange is a payment fact.
        allowed=(
            "audit opinion",
            "qualified opinion",
            "unqualified opinion",
            "adverse opinion",
            "legal opinion",
            "expert opinion",
            "opinion of the court",
            "protested bill",
            "protest of bill",
            "bill protest",
        ),
    ),
    ProtectedCategory(
        name="speech or online commentary",
        english=(
            "speech",
            "comment",
            "commentar*",
            "social media",
            "social network*",
            "weibo",
            "microblog*",
            "blog*",
            "tweet",
            "twitter",
            "wechat moments",
            "we media",
            "self media",
            "netizen*",
            "post",
            "repost",
            "rumour",
            "rumor",
            "rumourmonger*",
            "rumormonger*",
            "petition",
            "letters and visits",
            "xinfang",
            "shangfang",
            "critic",
            "critici*",
            "slander*",
            "defam*",
            "fake news",
            "false information",
            "misinformation",
            "disinformation",
            "higher authorit*",
        ),
        chinese=(
            "言论",
            "评论",
            "发帖",
            "帖子",
            "转发",
            "谣言",
            "造谣",
            "传谣",
            "上访",
            "信访",
            "请愿",
            "微博",
            "朋友圈",
            "社交媒体",
            "自媒体",
            "舆论",
            "舆情",
            "批评",
            "诽谤",
            "妄议",
        ),
        # "post" as a prefix, a place or a job, and petitions to a court in insolvency
        # or enforcement, are not speech.
        allowed=(
            "post office*",
            "post code*",
            "post box*",
            "post dated",
            "post loan",
            "post judgment",
            "post sale*",
            "post inspection*",
            "post of",
            "poster",
            "bankruptcy petition",
            "winding up petition",
            "liquidation petition",
            "petition for bankruptcy",
            "petition for liquidation",
            "petition for winding up",
            "petition for retrial",
            "petition for enforcement",
        ),
    ),
    ProtectedCategory(
        name="religion or belief",
        english=(
            "religio*",
            "faith",
            "belief",
            "believer",
            "worship*",
            "pray",
            "church*",
            "mosque*",
            "sect",
            "cult",
            "spiritual*",
            "clergy",
            "priest*",
            "imam*",
            "monk",
            "buddhis*",
            "christian*",
            "muslim*",
            "islam*",
            "catholic*",
            "protestant*",
            "taois*",
            "daois*",
            "falun gong",
            "falungong",
            "atheis*",
            "hindu*",
            "jewish",
            "judaism",
            "bible*",
            "quran*",
            "koran*",
            "scripture*",
            "missionar*",
            "proselyti*",
            "ramadan",
        ),
        chinese=(
            "宗教",
            "信仰",
            "信教",
            "教徒",
            "教会",
            "寺庙",
            "清真寺",
            "做礼拜",
            "祈祷",
            "佛教",
            "基督",
            "伊斯兰",
            "穆斯林",
            "天主教",
            "道教",
            "法轮",
            "邪教",
            "传教",
        ),
        # Good and bad faith are legal standards of conduct, not creeds.
        allowed=(
            "good faith",
            "bad faith",
            "reasonable belief",
            "spiritual civilisation",
            "spiritual civilization",
            "通信教育",
            "报道教",
            "教会了",
        ),
    ),
    ProtectedCategory(
        name="ethnicity or origin",
        english=(
            "ethnic*",
            "race",
            "racial*",
            "nationalit*",
            "national origin",
            "origin",
            "hukou",
            "household registration",
            "household register",
            "native place",
            "native province",
            "birthplace*",
            "place of birth",
            "country of birth",
            "citizenship",
            "foreigner*",
            "immigrant*",
            "immigration status",
            "uyghur*",
            "uighur*",
            "tibetan*",
            "caste",
            "tribe",
            "tribal",
            "ancestr*",
            "minority",
            "minorities",
            "minority language*",
            "mother tongue",
            "skin colour",
            "skin color",
            "descent",
        ),
        chinese=(
            "民族",
            "种族",
            "国籍",
            "籍贯",
            "户籍",
            "户口",
            "原籍",
            "出生地",
            "祖籍",
            "维吾尔",
            "维族",
            "藏族",
            "回族",
            "外地人",
            "肤色",
        ),
        # The origin of goods and of funds is a fact about a product or a payment.
        allowed=(
            "country of origin label*",
            "origin label*",
            "origin marking*",
            "certificate of origin",
            "certificates of origin",
            "rules of origin",
            "designation of origin",
            "product origin",
            "origin of goods",
            "origin of the goods",
            "origin of products",
            "origin of the products",
            "origin of funds",
            "origin of the funds",
        ),
    ),
    ProtectedCategory(
        name="health",
        english=(
            "health",
            "mental health",
            "mental illness*",
            "medical condition*",
            "medical histor*",
            "medical record*",
            "medical examination*",
            "diagnos*",
            "illness",
            "disease",
            "sick",
            "sickness",
            "disabilit*",
            "disabled person*",
            "disabled people",
            "handicap*",
            "psychiatric",
            "pregnan*",
            "hiv",
            "hepatitis",
            "tuberculosis",
            "cancer",
            "genetic*",
            "blood type*",
            "hospitali*",
            "infertil*",
            "abortion*",
            "unvaccinated",
            "vaccination status",
            "depress*",
            "anxiety disorder*",
            "autis*",
            "dementia",
            "addict*",
        ),
        chinese=(
            "健康",
            "疾病",
            "病史",
            "病情",
            "患病",
            "患有",
            "残疾",
            "残障",
            "精神病",
            "心理疾病",
            "抑郁",
            "怀孕",
            "孕妇",
            "孕期",
            "艾滋",
            "乙肝",
            "传染病",
            "体检",
            "住院",
            "基因",
            "血型",
            "疫苗接种",
        ),
        # Public health and food safety are what inspections protect; a business's
        # duty of care for its staff or customers is not anyone's medical condition.
        allowed=(
            "public health",
            "occupational health",
            "environmental health",
            "animal health",
            "plant health",
            "workplace health",
            "health and safety",
            "health & safety",
            "health inspection*",
            "health inspector*",
            "health authorit*",
            "health bureau*",
            "health commission*",
            "health department*",
            "health certificate*",
            "health permit*",
            "health insurance",
            "health supervision",
            "health product*",
            "health food*",
            "health care product*",
            "disease control",
            "disease prevention",
            "animal disease*",
            "genetically modified",
            "公共卫生",
            "职业健康",
            "健康证",
            "卫生健康",
            "疾病预防",
            "疾病控制",
            "传染病防治",
            "转基因",
        ),
    ),
    ProtectedCategory(
        name="sexual life or orientation",
        english=(
            "sexual orientation",
            "sexual life",
            "sex life",
            "sexuality",
            "sexual behaviour",
            "sexual behavior",
            "sexual activit*",
            "sexual partner*",
            "gay",
            "lesbian*",
            "homosexual*",
            "bisexual*",
            "transgender*",
            "lgbt*",
            "queer*",
            "gender identit*",
        ),
        chinese=(
            "性取向",
            "性生活",
            "性伴侣",
            "同性恋",
            "双性恋",
            "跨性别",
            "性别认同",
            "性少数",
        ),
    ),
    ProtectedCategory(
        name="trade union membership",
        # "union" alone is not here: a credit union or the European Union is not a
        # trade union.
        english=(
            "trade union*",
            "labour union*",
            "labor union*",
            "union member*",
            "union activit*",
            "union dues",
            "union organi*",
            "unionis*",
            "unioniz*",
            "strike",
            "collective bargaining",
            "work stoppage*",
            "industrial action",
        ),
        chinese=("工会", "罢工", "集体谈判"),
        allowed=("strike off", "strike out", "strike price*"),
    ),
    ProtectedCategory(
        name="family planning or family status",
        english=(
            "family planning",
            "birth quota*",
            "birth control",
            "birth permit*",
            "one child",
            "two child",
            "three child",
            "number of children",
            "childless*",
            "out of quota birth*",
            "over quota birth*",
            "excess birth*",
            "unauthorised birth*",
            "unauthorized birth*",
            "illegal birth*",
            "illegitimate child*",
            "out of wedlock",
            "marriage*",
            "marital",
            "married",
            "unmarried",
            "remarr*",
            "divorce",
            "widow*",
            "single parent*",
            "single mother*",
            "single father*",
            "cohabit*",
            "filial*",
            "visit* parents",
            "visit* their parents",
            "visit* elderly parents",
            "visit* aged parents",
            "elderly parents",
            "family status",
            "family background",
        ),
        chinese=(
            "计划生育",
            "超生",
            "生育",
            "独生子女",
            "二胎",
            "三胎",
            "婚姻",
            "结婚",
            "离婚",
            "未婚",
            "已婚",
            "再婚",
            "婚育",
            "同居",
            "非婚生",
            "孝",
            "赡养",
            "看望父母",
            "探望父母",
            "常回家看看",
            "子女数量",
            "家庭出身",
        ),
        allowed=("生育保险", "孝感"),
    ),
)

#: The ``error`` and ``warn`` callbacks of the checks below.
_Report = Callable[[Path, str], None]

_TAIL = (
    "a policy may not score opinions, speech, beliefs, origin, health, sexual life, "
    "union membership or family status"
)
_CJK = re.compile(r"[\u3000-\u9fff\uf900-\ufaff]")
_ENDINGS = "(?:s|es|d|ed|ing|er|ers)?"


def _term_pattern(term: str) -> str:
    if _CJK.search(term):
        return re.escape(term)
    words = re.split(r"[\s_-]+", term.strip())
    parts = [re.escape(w[:-1]) + "[a-z]*" if w.endswith("*") else re.escape(w) for w in words]
    body = r"[\s_-]+".join(parts)
    tail = "" if term.endswith("*") else _ENDINGS
    return rf"(?<![a-z0-9]){body}{tail}(?![a-z0-9])"


def _alternation(terms: tuple[str, ...]) -> re.Pattern[str] | None:
    if not terms:
        return None
    # Longest first, so "mental illness" is reported rather than a shorter overlap.
    ordered = sorted(terms, key=len, reverse=True)
    return re.compile("|".join(_term_pattern(t) for t in ordered), re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class _Compiled:
    category: ProtectedCategory
    words: re.Pattern[str]
    allowed: re.Pattern[str] | None


def _compile(category: ProtectedCategory) -> _Compiled:
    words = _alternation(category.english + category.chinese)
    assert words is not None
    return _Compiled(category, words, _alternation(category.allowed))


_COMPILED = tuple(_compile(c) for c in PROTECTED_CATEGORIES)


def protected_matches(text: str) -> list[tuple[str, str]]:
    """(category, word) for each protected category ``text`` names, first word only.

    ``_`` in the text reads as a space, so keys are matched word by word:

    >>> protected_matches("online_rumour")
    [('speech or online commentary', 'rumour')]
    >>> protected_matches("Public health inspection, postponed")
    []
    """
    spaced = text.replace("_", " ")
    found: list[tuple[str, str]] = []
    for compiled in _COMPILED:
        masked = spaced
        if compiled.allowed is not None:
            masked = compiled.allowed.sub(lambda m: " " * len(m.group()), spaced)
        m = compiled.words.search(masked)
        if m is not None:
            found.append((compiled.category.name, text[m.start() : m.end()]))
    return found


def vocabulary_markdown() -> str:
    """The vocabulary as the Markdown table ``docs/policy.md`` prints."""
    rows = [
        "| Category | English (whole words) | Chinese | Allowed (not matched) |",
        "|---|---|---|---|",
    ]
    for c in PROTECTED_CATEGORIES:

        def cell(terms: tuple[str, ...]) -> str:
            return ", ".join(f"`{t}`" for t in terms) or "—"

        english_allowed = tuple(t for t in c.allowed if not _CJK.search(t))
        chinese_allowed = tuple(t for t in c.allowed if _CJK.search(t))
        rows.append(
            f"| {c.name} | {cell(c.english)} | {cell(c.chinese)} | "
            f"{cell(english_allowed + chinese_allowed)} |"
        )
    return "\n".join(rows) + "\n"


# -- the linter --------------------------------------------------------------------------


def lint_file(path: str | FilePath) -> list[PolicyProblem]:
    """Load and lint a policy file; load errors are returned as problems, not raised."""
    try:
        loaded = load_policy(path)
    except PolicyError as exc:
        return list(exc.problems)
    return lint_policy(loaded)


def lint_policy(loaded: LoadedPolicy) -> list[PolicyProblem]:
    """Every refusal (``"error"``) and warning for a loaded policy, in file order."""
    policy = loaded.policy
    problems: list[PolicyProblem] = []

    def error(path: Path, reason: str) -> None:
        problems.append(loaded.problem(path, reason, "error"))

    def warn(path: Path, reason: str) -> None:
        problems.append(loaded.problem(path, reason, "warning"))

    # A LoadedPolicy built by hand skipped the loader's cross-reference checks.
    for path, reason in check_references(policy):
        error(path, reason)

    for path, text in _scanned_texts(policy):
        for category, word in protected_matches(text):
            error(path, f"scores a protected category ({category}: {word!r}); {_TAIL}")

    _lint_legal_bases(policy, error)
    _lint_measures(policy, error, warn)
    _lint_structure(policy, warn)

    unique = list(dict.fromkeys(problems))
    return sorted(unique, key=lambda p: (p.line or 0, p.severity != "error"))


def _scanned_texts(policy: Policy) -> list[tuple[Path, str]]:
    """What a policy scores is named by these: keys, titles and descriptions."""
    texts: list[tuple[Path, str]] = []

    def add(path: Path, text: str) -> None:
        if text.strip():
            texts.append((path, text))

    for name, domain in policy.domains.items():
        add(("domains", name), name)
        add(("domains", name, "title"), domain.title)
        add(("domains", name, "description"), domain.description)
    for name, rt in policy.record_types.items():
        add(("record_types", name), name)
        add(("record_types", name, "title"), rt.title)
        add(("record_types", name, "description"), rt.description)
        # A neutral title under a law about religion or ethnic affairs still scores them.
        add(("record_types", name, "legal_basis"), rt.legal_basis)
    for name, ldef in policy.lists.items():
        add(("lists", name, "title"), ldef.title)
        add(("lists", name, "description"), ldef.description)
        for i, rule in enumerate(ldef.rules):
            add(("lists", name, "rules", i, "id"), rule.id)
            add(("lists", name, "rules", i, "description"), rule.description)
    return texts


#: Words that fill a legal_basis field without stating one.
_PLACEHOLDERS = frozenset({"none", "n/a", "na", "tbd", "todo", "-", "?", "unknown", "x", "..."})


def _blank(text: str) -> bool:
    """No legal basis stated: empty, or a placeholder such as "none" or "TBD"."""
    return text.strip().lower().rstrip(".") in _PLACEHOLDERS | {""}


def _lint_legal_bases(policy: Policy, error: _Report) -> None:
    for name, rt in policy.record_types.items():
        if _blank(rt.legal_basis):
            error(
                ("record_types", name, "legal_basis"),
                f"record type {name!r} has a blank legal basis: name the law or rule under "
                "which this fact may be recorded",
            )
    for name, ldef in policy.lists.items():
        if _blank(ldef.legal_basis):
            error(
                ("lists", name, "legal_basis"),
                f"list {name!r} has a blank legal basis: name the law that allows this list",
            )
    for name, measure in policy.measures.items():
        if _blank(measure.legal_basis):
            error(
                ("measures", name, "legal_basis"),
                f"measure {name!r} has a blank legal basis: name the law that allows it",
            )
        for domain, basis in measure.affected_by.items():
            if _blank(basis):
                error(
                    ("measures", name, "affected_by", domain),
                    f"domain {domain!r} may affect measure {name!r} but no legal basis is stated",
                )


def _lint_measures(policy: Policy, error: _Report, warn: _Report) -> None:
    scoring_domains = {rt.domain for rt in policy.record_types.values()}
    for name, measure in policy.measures.items():
        allowed = set(measure.affected_by)
        for j, rt_name in enumerate(measure.when.record_types):
            rt = policy.record_types.get(rt_name)
            if rt is not None and rt.domain not in allowed:
                error(
                    ("measures", name, "when", "record_types", j),
                    f"record type {rt_name!r} (domain {rt.domain!r}) would trigger measure "
                    f"{name!r}, but domain {rt.domain!r} is not in affected_by: no legal "
                    f"basis links {rt.domain} misconduct to this measure",
                )
        outside_all = sorted(scoring_domains - allowed)
        for j, list_name in enumerate(measure.when.lists):
            ldef = policy.lists.get(list_name)
            if ldef is None:
                continue
            for rule in ldef.rules:
                if rule.is_threshold:
                    if outside_all:
                        warn(
                            ("measures", name, "when", "lists", j),
                            f"list {list_name!r} rule {rule.id!r} is a threshold on the whole "
                            f"score, which counts domains not in affected_by "
                            f"({', '.join(outside_all)}); use when.grade_at_most or "
                            "grade_at_least, which read the measure's own score",
                        )
                    continue
                outside = [
                    f"{t} ({policy.record_types[t].domain})"
                    for t in rule.record_types
                    if t in policy.record_types and policy.record_types[t].domain not in allowed
                ]
                if outside:
                    warn(
                        ("measures", name, "when", "lists", j),
                        f"list {list_name!r} rule {rule.id!r} enters subjects for "
                        f"{', '.join(outside)}, whose domain is not in affected_by; those "
                        f"entries cannot trigger measure {name!r}",
                    )
        if measure.kind == "sanction" and measure.when.grade_at_least is not None:
            warn(
                ("measures", name, "when", "grade_at_least"),
                f"sanction {name!r} is triggered by a good grade (grade_at_least); did you "
                "mean grade_at_most?",
            )
        if measure.kind == "incentive" and measure.when.grade_at_most is not None:
            warn(
                ("measures", name, "when", "grade_at_most"),
                f"incentive {name!r} is triggered by a poor grade (grade_at_most); did you "
                "mean grade_at_least?",
            )


def _lint_structure(policy: Policy, warn: _Report) -> None:
    used = {rt.domain for rt in policy.record_types.values()}
    for name in policy.domains:
        if name not in used:
            warn(("domains", name), f"domain {name!r} has no record types")
    for name, provider in policy.providers.items():
        if not any(g in policy.record_types for g in provider.grants):
            warn(
                ("providers", name, "grants"),
                f"provider {name!r} may submit no record type this policy defines",
            )
    for name, ldef in policy.lists.items():
        thresholds = [r for r in ldef.rules if r.is_threshold]
        if ldef.kind == "red" and not thresholds:
            warn(
                ("lists", name),
                f"red list {name!r} has no threshold rule (score_at_least): no subject can "
                "earn a place on it by its score",
            )
        for i, rule in enumerate(ldef.rules):
            if ldef.kind == "red" and rule.score_below is not None:
                warn(
                    ("lists", name, "rules", i, "score_below"),
                    f"red list {name!r} puts subjects on for a low score (score_below)",
                )
            if ldef.kind == "black" and rule.score_at_least is not None:
                warn(
                    ("lists", name, "rules", i, "score_at_least"),
                    f"black list {name!r} puts subjects on for a high score (score_at_least)",
                )
    for name, rt in policy.record_types.items():
        if rt.public and SubjectKind.PERSON in rt.applies_to:
            warn(
                ("record_types", name, "public"),
                f"record type {name!r} is public but applies to persons: only organisations' "
                "records are published; persons' records of this type stay private",
            )
        if rt.repair_after is not None and rt.points > 0:
            warn(
                ("record_types", name, "repair_after"),
                f"record type {name!r} earns points; repair_after only makes sense for "
                "negative records",
            )
    for name, text in policy.purposes.items():
        if _blank(text):
            warn(("purposes", name), f"purpose {name!r} has no description")
