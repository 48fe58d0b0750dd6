"""The linter: protected categories, legal bases, warnings.

Fixture strategy: a small clean policy (``BASE``) with one extra record type, list or
measure appended per test, written inline so the offending line is in view. Each refusal
asserts the exact FILE:LINE and wording; each false-positive case asserts silence.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from trustledger.errors import PolicyProblem
from trustledger.policy.lint import (
    PROTECTED_CATEGORIES,
    lint_file,
    lint_policy,
    protected_matches,
)
from trustledger.policy.load import LoadedPolicy, parse_policy
from trustledger.policy.schema import Provider

FILE = "policies/x.toml"
EXAMPLE = Path(__file__).resolve().parents[2] / "policies" / "example-city.toml"
TAIL = (
    "a policy may not score opinions, speech, beliefs, origin, health, sexual life, "
    "union membership or family status"
)

BASE = """\
[policy]
name = "x"
title = "X"
base_score = 1000

[[grades]]
grade = "A"
min_score = 900

[[grades]]
grade = "B"

[domains.finance]
title = "Finance"

[domains.transport]
title = "Transport"

[domains.civic]
title = "Civic life"

[record_types.loan_default]
domain = "finance"
title = "Loan default"
points = -80
counts_for = "5y"
legal_basis = "Credit Reporting Regulation, art. 16"

[record_types.fare_evasion]
domain = "transport"
title = "Fare evasion"
applies_to = ["person"]
points = -5
counts_for = "1y"
legal_basis = "Rail Transit Regulations, art. 33"

[record_types.volunteer_service]
domain = "civic"
title = "Volunteer service"
points = 20
counts_for = "2y"
legal_basis = "Regulations on Volunteer Service, art. 19"
"""


def lint(extra: str = "") -> list[PolicyProblem]:
    return lint_policy(parse_policy(BASE + extra, filename=FILE))


def errors(extra: str = "") -> list[str]:
    return [str(p) for p in lint(extra) if p.severity == "error"]


def warnings(extra: str = "") -> list[str]:
    return [str(p) for p in lint(extra) if p.severity == "warning"]


def line_of(extra: str, needle: str) -> int:
    text = BASE + extra
    hits = [i for i, line in enumerate(text.splitlines(), 1) if needle in line]
    assert len(hits) == 1, (needle, hits)
    return hits[0]


def record_type(key: str, title: str, description: str = "", domain: str = "civic") -> str:
    return (
        f"\n[record_types.{key}]\n"
        f'domain = "{domain}"\n'
        f'title = "{title}"\n'
        f'description = "{description}"\n'
        "points = -10\n"
        'counts_for = "1y"\n'
        'legal_basis = "Some regulation"\n'
    )


def test_base_is_clean() -> None:
    assert lint() == []


# -- protected categories ----------------------------------------------------------------


def test_refusal_names_file_line_category_word_and_key() -> None:
    extra = record_type("online_rumour", "Online conduct")
    line = line_of(extra, "[record_types.online_rumour]")
    assert errors(extra) == [
        f"{FILE}:{line}: record_types.online_rumour: scores a protected category "
        f"(speech or online commentary: 'rumour'); {TAIL}"
    ]


# (category, key, title, description, the word reported)
PROTECTED = [
    ("political opinion", "party_loyalty", "Political attitude", "", "Political"),
    ("political opinion", "attitude", "政治态度", "", "政治"),
    ("speech or online commentary", "weibo_activity", "Posts", "", "weibo"),
    ("speech or online commentary", "conduct", "Spreading rumours online", "", "rumours"),
    ("speech or online commentary", "visits", "Petitioning higher authorities", "", "Petitioning"),
    ("speech or online commentary", "conduct", "网络谣言", "", "谣言"),
    ("speech or online commentary", "conduct", "越级上访", "", "上访"),
    (
        "speech or online commentary",
        "conduct",
        "Conduct",
        "Negative comments on social media",
        "comments",
    ),
    ("religion or belief", "conduct", "Attending unregistered church services", "", "church"),
    ("religion or belief", "conduct", "参加宗教活动", "", "宗教"),
    ("religion or belief", "conduct", "Conduct", "非法信仰", "信仰"),
    ("ethnicity or origin", "conduct", "Ethnic group", "", "Ethnic"),
    ("ethnicity or origin", "hukou_origin", "Registration", "", "hukou"),
    ("ethnicity or origin", "conduct", "Applicant from a rural place of origin", "", "origin"),
    ("ethnicity or origin", "conduct", "民族成分", "", "民族"),
    ("ethnicity or origin", "conduct", "外地户籍", "", "户籍"),
    ("ethnicity or origin", "conduct", "Nationality of the applicant", "", "Nationality"),
    ("health", "conduct", "Chronic illness", "", "illness"),
    ("health", "conduct", "Mental health treatment", "", "Mental health"),
    ("health", "conduct", "Pregnancy during employment", "", "Pregnancy"),
    ("health", "conduct", "HIV status", "", "HIV"),
    ("health", "disability_status", "Status", "", "disability"),
    ("health", "conduct", "慢性疾病", "", "疾病"),
    ("health", "conduct", "残疾人", "", "残疾"),
    ("sexual life or orientation", "conduct", "Sexual orientation", "", "Sexual orientation"),
    ("sexual life or orientation", "conduct", "同性恋", "", "同性恋"),
    ("sexual life or orientation", "conduct", "性取向", "", "性取向"),
    ("trade union membership", "conduct", "Trade union membership", "", "Trade union"),
    ("trade union membership", "conduct", "组织罢工", "", "罢工"),
    ("trade union membership", "conduct", "加入独立工会", "", "工会"),
    ("family planning or family status", "conduct", "Birth quota exceeded", "", "Birth quota"),
    ("family planning or family status", "conduct", "超生", "", "超生"),
    ("family planning or family status", "conduct", "违反计划生育", "", "计划生育"),
    ("family planning or family status", "conduct", "Marital status", "", "Marital"),
    ("family planning or family status", "conduct", "离婚", "", "离婚"),
    (
        "family planning or family status",
        "conduct",
        "Not visiting elderly parents",
        "",
        "visiting elderly parents",
    ),
    ("family planning or family status", "conduct", "不孝顺父母", "", "孝"),
]


@pytest.mark.parametrize(("category", "key", "title", "description", "word"), PROTECTED)
def test_protected_category_is_refused(
    category: str, key: str, title: str, description: str, word: str
) -> None:
    extra = record_type(key, title, description)
    found = errors(extra)
    assert found, f"{title!r} / {description!r} was not refused"
    assert any(f"({category}: {word!r})" in e for e in found), found
    assert all(TAIL in e for e in found)


def test_every_category_has_a_test() -> None:
    assert {c.name for c in PROTECTED_CATEGORIES} == {case[0] for case in PROTECTED}


def test_domains_and_list_rules_are_read_too() -> None:
    extra = (
        '\n[domains.religion]\ntitle = "Faith"\n'
        + record_type("temple_donations", "Donations", domain="religion")
        + '\n[lists.black]\nkind = "black"\ntitle = "Black"\nlegal_basis = "A law"\n'
        "\n[[lists.black.rules]]\n"
        'id = "rumour_mongers"\ndescription = "Those who spread 谣言"\n'
        "score_below = 500\n"
    )
    found = errors(extra)
    assert f"{FILE}:{line_of(extra, '[domains.religion]')}: domains.religion: scores a " in found[0]
    wheres = [e.split(": scores")[0].split(": ", 1)[1] for e in found]
    assert wheres == [
        "domains.religion",
        "domains.religion.title",
        "lists.black.rules[0].id",
        "lists.black.rules[0].description",
    ]


FALSE_POSITIVES = [
    ("food_inspection", "Food safety inspection", "Protects public health"),
    ("postal_arrears", "Postal service bill unpaid", "Postponed payments to the post office"),
    ("consumer_loan_default", "Loan default", "A debt that originated from a consumer loan"),
    ("origin_labelling", "False country of origin labelling", "The origin of goods was misstated"),
    ("credit_union_arrears", "Credit union loan unpaid", "Also European Union funds"),
    ("bad_faith_litigation", "Bad faith litigation", "Litigation in bad faith; good faith"),
    ("bankruptcy", "Bankruptcy petition", "A petition for bankruptcy filed by creditors"),
    ("health_products", "False advertising of health products", "Health food claims"),
    ("occupational_safety", "Occupational health and safety violation", "健康证 missing"),
    ("struck_off", "Company struck off", "Strike off the register after strike-off notice"),
    ("traffic", "Striking a pedestrian", "Serious traffic offence"),
    ("audit", "Adverse audit opinion", "A qualified opinion of the auditor"),
    ("blood_donation", "Blood donation", "Voluntary unpaid donation"),
    ("food_business", "食品安全检查不合格", "危害公共卫生"),
    ("insurance", "生育保险欠费", "未缴纳社会保险费"),
    ("xiaogan", "孝感市分行贷款逾期", "卫生健康委员会通报"),
    ("disease_control", "Breach of disease control rules by a business", "疾病预防控制"),
    ("gmo", "Unlabelled genetically modified food", "转基因标识"),
    ("post_loan", "Post-loan checks refused", "Post-dated cheque bounced"),
    ("wage_arrears", "Wages owed to migrant workers", "Employer withheld wages"),
]


@pytest.mark.parametrize(("key", "title", "description"), FALSE_POSITIVES)
def test_legitimate_words_pass(key: str, title: str, description: str) -> None:
    assert errors(record_type(key, title, description)) == []


def test_protected_matches_reports_one_word_per_category() -> None:
    assert protected_matches("religious_rumours about 婚姻") == [
        ("speech or online commentary", "rumours"),
        ("religion or belief", "religious"),
        ("family planning or family status", "婚姻"),
    ]


# -- legal bases -------------------------------------------------------------------------

MEASURE = """
[measures.loan_rate_review]
kind = "sanction"
title = "Loan rate review"
legal_basis = "Commercial Banking Law, art. 35"
effect = "deny"

[measures.loan_rate_review.affected_by]
finance = "Repayment history is evidence of ability to repay"

[measures.loan_rate_review.when]
record_types = ["loan_default"]
"""


def test_a_clean_measure_passes() -> None:
    assert lint(MEASURE) == []


def test_measure_without_legal_basis_is_refused(tmp_path: Path) -> None:
    extra = MEASURE.replace('legal_basis = "Commercial Banking Law, art. 35"\n', "")
    path = tmp_path / "x.toml"
    path.write_text(BASE + extra, encoding="utf-8")
    line = line_of(extra, "[measures.loan_rate_review]")
    assert [str(p) for p in lint_file(path)] == [
        f"{path}:{line}: measures.loan_rate_review: missing required key 'legal_basis'"
    ]


def test_measure_with_blank_legal_basis_is_refused() -> None:
    extra = MEASURE.replace('"Commercial Banking Law, art. 35"', '"   "')
    line = line_of(extra, 'legal_basis = "   "')
    assert errors(extra) == [
        f"{FILE}:{line}: measures.loan_rate_review.legal_basis: measure 'loan_rate_review' "
        "has a blank legal basis: name the law that allows it"
    ]


def test_domain_with_blank_basis_is_refused() -> None:
    extra = MEASURE.replace(
        "[measures.loan_rate_review.when]", 'transport = ""\n\n[measures.loan_rate_review.when]'
    )
    line = line_of(extra, 'transport = ""')
    assert errors(extra) == [
        f"{FILE}:{line}: measures.loan_rate_review.affected_by.transport: domain 'transport' "
        "may affect measure 'loan_rate_review' but no legal basis is stated"
    ]


def test_record_type_outside_affected_by_is_refused() -> None:
    extra = MEASURE.replace(
        'record_types = ["loan_default"]', 'record_types = ["loan_default", "fare_evasion"]'
    )
    line = line_of(extra, '"fare_evasion"]')
    assert errors(extra) == [
        f"{FILE}:{line}: measures.loan_rate_review.when.record_types[1]: record type "
        "'fare_evasion' (domain 'transport') would trigger measure 'loan_rate_review', but "
        "domain 'transport' is not in affected_by: no legal basis links transport misconduct "
        "to this measure"
    ]


def test_blank_legal_basis_of_record_type_and_list_is_refused() -> None:
    extra = record_type("late_fee", "Late fee").replace('"Some regulation"', '" "') + (
        '\n[lists.black]\nkind = "black"\ntitle = "Black"\nlegal_basis = "\\t"\n'
        '\n[[lists.black.rules]]\nid = "low"\nscore_below = 500\n'
    )
    rt_line = line_of(extra, 'legal_basis = " "')
    list_line = line_of(extra, 'legal_basis = "\\t"')
    assert errors(extra) == [
        f"{FILE}:{rt_line}: record_types.late_fee.legal_basis: record type 'late_fee' has a "
        "blank legal basis: name the law or rule under which this fact may be recorded",
        f"{FILE}:{list_line}: lists.black.legal_basis: list 'black' has a blank legal basis: "
        "name the law that allows this list",
    ]


def test_empty_legal_basis_is_a_load_error(tmp_path: Path) -> None:
    extra = record_type("late_fee", "Late fee").replace('"Some regulation"', '""')
    path = tmp_path / "x.toml"
    path.write_text(BASE + extra, encoding="utf-8")
    line = line_of(extra, 'legal_basis = ""')
    assert [str(p) for p in lint_file(path)] == [
        f"{path}:{line}: record_types.late_fee.legal_basis: must not be empty"
    ]


# -- warnings ----------------------------------------------------------------------------

BLACK_LIST = """
[lists.black]
kind = "black"
title = "Black list"
legal_basis = "A law"

[[lists.black.rules]]
id = "defaulters"
record_types = ["loan_default", "fare_evasion"]
duration = "3y"
"""


def test_list_with_entries_from_other_domains_warns() -> None:
    extra = BLACK_LIST + MEASURE.replace('record_types = ["loan_default"]', 'lists = ["black"]')
    line = line_of(extra, 'lists = ["black"]')
    assert errors(extra) == []
    assert warnings(extra) == [
        f"{FILE}:{line}: measures.loan_rate_review.when.lists[0]: list 'black' rule "
        "'defaulters' enters subjects for fare_evasion (transport), whose domain is not in "
        "affected_by; those entries cannot trigger measure 'loan_rate_review'"
    ]


def test_threshold_list_in_a_measure_warns() -> None:
    extra = BLACK_LIST.replace(
        'record_types = ["loan_default", "fare_evasion"]\nduration = "3y"', "score_below = 600"
    ) + MEASURE.replace('record_types = ["loan_default"]', 'lists = ["black"]')
    found = warnings(extra)
    assert len(found) == 1
    assert "is a threshold on the whole score, which counts domains not in affected_by " in found[0]
    assert "(civic, transport)" in found[0]


def test_structural_warnings() -> None:
    extra = (
        '\n[domains.tax]\ntitle = "Tax"\n'
        '\n[lists.red]\nkind = "red"\ntitle = "Red"\nlegal_basis = "A law"\n'
        '\n[[lists.red.rules]]\nid = "volunteers"\nrecord_types = ["volunteer_service"]\n'
        'duration = "1y"\n'
        '\n[record_types.inspection_fail]\ndomain = "finance"\ntitle = "Inspection failed"\n'
        'points = -1\ncounts_for = "1y"\nlegal_basis = "A law"\npublic = true\n'
        '\n[purposes]\nscreening = " "\n'
    )
    found = warnings(extra)
    assert errors(extra) == []
    assert found == [
        f"{FILE}:{line_of(extra, '[domains.tax]')}: domains.tax: domain 'tax' has no record types",
        f"{FILE}:{line_of(extra, '[lists.red]')}: lists.red: red list 'red' has no threshold "
        "rule (score_at_least): no subject can earn a place on it by its score",
        f"{FILE}:{line_of(extra, 'public = true')}: record_types.inspection_fail.public: "
        "record type 'inspection_fail' is public but applies to persons: only "
        "organisations' records are published; persons' records of this type stay private",
        f"{FILE}:{line_of(extra, 'screening')}: purposes.screening: purpose 'screening' has "
        "no description",
    ]


def test_grade_direction_warnings() -> None:
    extra = MEASURE.replace('record_types = ["loan_default"]', 'grade_at_least = "A"')
    assert warnings(extra) == [
        f"{FILE}:{line_of(extra, 'grade_at_least')}: measures.loan_rate_review.when."
        "grade_at_least: sanction 'loan_rate_review' is triggered by a good grade "
        "(grade_at_least); did you mean grade_at_most?"
    ]


def test_provider_granting_nothing_that_exists_warns() -> None:
    # The loader refuses unknown grants; a policy built in code is linted all the same.
    text = BASE + '\n[providers.bank]\nkind = "bank"\ntitle = "Bank"\ngrants = ["loan_default"]\n'
    loaded = parse_policy(text, filename=FILE)
    policy = loaded.policy.model_copy(
        update={"providers": {"bank": Provider(kind="bank", title="Bank", grants=("gone",))}}
    )
    rebuilt = LoadedPolicy(policy=policy, source=text, sha256=loaded.sha256, filename=FILE)
    line = text.splitlines().index('grants = ["loan_default"]') + 1
    assert [(str(p), p.severity) for p in lint_policy(rebuilt)] == [
        (f"{FILE}:{line}: providers.bank.grants[0]: unknown record type 'gone'", "error"),
        (
            f"{FILE}:{line}: providers.bank.grants: provider 'bank' may submit no record type "
            "this policy defines",
            "warning",
        ),
    ]


# -- lint_file ---------------------------------------------------------------------------


def test_lint_file_returns_load_errors(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text(BASE + "oops\n", encoding="utf-8")
    problems = lint_file(path)
    assert len(problems) == 1
    assert str(problems[0]).startswith(f"{path}:{BASE.count(chr(10)) + 1}: TOML syntax error")


def test_lint_file_missing(tmp_path: Path) -> None:
    problems = lint_file(tmp_path / "none.toml")
    assert len(problems) == 1 and problems[0].line is None


@pytest.mark.parametrize(
    ("title", "basis", "category"),
    [
        ("Depression", "Credit Regulation art. 1", "health"),
        ("Spreading false information online", "Credit Regulation art. 1", "speech"),
        ("Complaints to higher authorities about officials", "Credit Regulation art. 1", "speech"),
        ("Child enrolled in a minority-language school", "Credit Regulation art. 1", "ethnicity"),
        ("Human rights lawyer", "Credit Regulation art. 1", "political"),
        ("Attendance record", "Regulations on Religious Affairs (2017), art. 41", "religion"),
    ],
)
def test_more_protected_categories_are_refused(
    tmp_path: Path, title: str, basis: str, category: str
) -> None:
    path = tmp_path / "p.toml"
    path.write_text(
        EXAMPLE.read_text(encoding="utf-8")
        + f'\n[record_types.extra]\ndomain = "civic"\ntitle = "{title}"\npoints = -10\n'
        f'counts_for = "1y"\nlegal_basis = "{basis}"\n',
        encoding="utf-8",
    )
    errors = [p for p in lint_file(path) if p.severity == "error"]
    assert errors and all("record_types.extra" in p.reason for p in errors)
    assert any(category in p.reason for p in errors)


@pytest.mark.parametrize("placeholder", ["none", "N/A", "TBD", "-", "?"])
def test_a_placeholder_is_not_a_legal_basis(tmp_path: Path, placeholder: str) -> None:
    path = tmp_path / "p.toml"
    text = EXAMPLE.read_text(encoding="utf-8")
    path.write_text(
        text + f'\n[record_types.extra]\ndomain = "finance"\ntitle = "Late rent"\npoints = -10\n'
        f'counts_for = "1y"\nlegal_basis = "{placeholder}"\n',
        encoding="utf-8",
    )
    errors = [p for p in lint_file(path) if p.severity == "error"]
    assert [p.line for p in errors] == [len(text.splitlines()) + 7]
