"""Write the example providers' files: four agencies, four layouts, one small city.

    .venv/bin/python examples/providers/generate.py [DIR]

writes (into DIR, by default the directory of this script) the data file of each provider
beside its hand-written mapping. The same script always writes the same bytes (one
``random.Random(2026)``; fixed dates up to 2026-06-30), so the committed files can be
regenerated and checked (``tests/ingest/test_examples.py`` does).

The city is self-contained: 80 persons and 36 organisations of its own, with valid
identifiers, phones and addresses. Their records come from

* ``intermediate_court/judgments.csv``: GB18030 CSV with Chinese headers, dates written
  ``2025年3月1日``, amounts in ten thousands of yuan, the court's own words for the state
  of a judgment and the kind of debtor, case numbers as dedupe keys; three rows exported
  twice, four persons without an identification number (name and birth date only, one
  with a variant character in the name) and sole traders' shops without a credit code;
* ``city_commercial_bank/repayments.jsonl``: nested JSON objects, the bank's event codes,
  amounts in fen; a retransmitted block of five rows, six card rows from a legacy system
  without an identification number (name, birth date and mobile number only);
* ``city_rail_transit/fare_evasion.csv``: ``;``-separated UTF-8 with a byte-order mark,
  the operator's offence and station codes, dates as ``20260315``; a third of the
  passengers caught without papers (name, birth date and phone). Four rows are invalid on
  purpose (an unknown offence code, 30 February, a wrong check digit, a fine in words),
  so this batch is quarantined; ``fare_evasion.corrected.csv`` is the operator's
  corrected export, for ``trustledger quarantine retry ID --file ...``;
* ``food_inspectorate/inspections.parquet``: Parquet with real date and number columns,
  fines in ten thousands of yuan; street stalls without a credit code (name and address
  only), and one inspection exported twice.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from random import Random

import pyarrow as pa
import pyarrow.parquet as pq

from trustledger.identifiers import make_ric, make_uscc
from trustledger.synth import names

HERE = Path(__file__).resolve().parent
#: The newest day any record may have: the tests ingest these files as of 2026-06-30.
LAST = date(2026, 6, 30)
FIRST = date(2024, 7, 1)
# The city's districts (Shenzhen): what the addresses, identifiers and case numbers use.
DISTRICTS = [r for r in names.REGIONS if r.city == "深圳市"]


@dataclass(frozen=True)
class Person:
    name: str
    ric: str
    born: date
    phone: str
    address: str


@dataclass(frozen=True)
class Organisation:
    name: str
    uscc: str | None  # None: a street stall with no credit code
    address: str
    food: bool


def day_between(rnd: Random, first: date, last: date) -> date:
    return first + timedelta(days=rnd.randrange((last - first).days + 1))


def address(rnd: Random) -> str:
    district = rnd.choice(DISTRICTS)
    return f"{district.city}{district.district}{rnd.choice(names.ROADS)}{rnd.randint(1, 399)}号"


def people(rnd: Random, n: int) -> list[Person]:
    surnames = [s for s, _ in names.SURNAMES]
    weights = [w for _, w in names.SURNAMES]
    out: list[Person] = []
    seen: set[str] = set()
    while len(out) < n:
        born = day_between(rnd, date(1952, 1, 1), date(2003, 12, 31))
        female = rnd.random() < 0.5
        pool = (
            (names.FEMALE_CLASSIC if female else names.MALE_CLASSIC)
            if born.year < 1980
            else (names.FEMALE_MODERN if female else names.MALE_MODERN)
        )
        given = "".join(rnd.choice(pool) for _ in range(rnd.choice((1, 2, 2))))
        name = rnd.choices(surnames, weights)[0] + given
        district = rnd.choice(DISTRICTS)
        sequence = rnd.randrange(0, 999, 2) + (0 if female else 1)
        ric = make_ric(district.code, born, sequence)
        if ric in seen:
            continue
        seen.add(ric)
        phone = rnd.choice(names.MOBILE_PREFIXES) + f"{rnd.randrange(10**8):08d}"
        out.append(Person(name, ric, born, phone, address(rnd)))
    return out


def organisations(rnd: Random, n: int) -> list[Organisation]:
    out: list[Organisation] = []
    used: set[str] = set()
    while len(out) < n:
        district = rnd.choice(DISTRICTS)
        trade = rnd.choice(names.TRADE_NAMES)
        food = len(out) % 2 == 0
        if food and len(out) % 6 == 0:
            # A street stall: a sole trader's shop with no Unified Social Credit Code.
            shop = rnd.choice([s for s, is_food in names.SHOPS if is_food])
            name = f"{district.district.removesuffix('区')}{trade}{shop}"
            uscc = None
        else:
            words = "餐饮 管理" if food else rnd.choice(("贸易", "科技", "物流", "建筑 工程"))
            name = f"深圳市{trade}{words.replace(' ', '')}有限公司"
            code = "".join(rnd.choice("0123456789ABCDEFGHJKLMNPQRTUWXY") for _ in range(8))
            uscc = make_uscc("9", "1", district.code, code)
        if name in used:
            continue
        used.add(name)
        out.append(Organisation(name, uscc, address(rnd), food))
    return out


def case_number(rnd: Random, year: int, serial: int) -> str:
    district = rnd.choice(DISTRICTS)
    return f"（{year}）粤{district.code[2:6]}执{serial}号"


def chinese_date(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


# -- the court ---------------------------------------------------------------------------

COURT_HEADER = [
    "案号",
    "被执行人",
    "主体类型",
    "证件类型",
    "证件号码",
    "出生日期",
    "履行情况",
    "生效日期",
    "执行标的（万元）",
    "案由",
    "承办法官",
]
STATES = ["全部未履行"] * 5 + ["部分未履行"] * 2 + ["迟延履行"] * 3
CAUSES = ["借款合同纠纷", "买卖合同纠纷", "租赁合同纠纷", "劳务合同纠纷", "民间借贷纠纷"]
JUDGES = ["王法官", "陈法官", "刘法官", "林法官"]
#: Characters a clerk may type in their traditional or variant form.
VARIANTS = {"张": "張", "陈": "陳", "刘": "劉", "黄": "黃", "杨": "楊", "吴": "吳", "赵": "趙"}


def court(rnd: Random, persons: list[Person], orgs: list[Organisation]) -> bytes:
    rows: list[list[str]] = []
    debtors: list[Person | Organisation] = [*rnd.sample(persons, 30), *rnd.sample(orgs, 8)]
    serial = 1000
    for debtor in debtors:
        for _ in range(rnd.choice((1, 1, 2, 3))):
            serial += rnd.randint(3, 40)
            effective = day_between(rnd, FIRST, LAST)
            amount = f"{rnd.randint(2, 800) / 100:.2f}"  # 0.02 to 8.00 ten thousand yuan
            if isinstance(debtor, Person):
                kind, id_no, born, name = "居民身份证", debtor.ric, debtor.born, debtor.name
                born_text, holder = chinese_date(born), "自然人"
            else:
                kind, id_no, name = "统一社会信用代码", debtor.uscc or "", debtor.name
                born_text = ""
                holder = "法人或其他组织" if debtor.uscc else "个体工商户"
            rows.append(
                [
                    case_number(rnd, effective.year, serial),
                    name,
                    holder,
                    kind if id_no else "",
                    id_no,
                    born_text,
                    rnd.choice(STATES),
                    chinese_date(effective),
                    amount,
                    rnd.choice(CAUSES),
                    rnd.choice(JUDGES),
                ]
            )
    # Four debtors known by name and birth date only; the first whose name has a character
    # with a traditional form is typed with it.
    unnamed = rnd.sample(persons, 4)
    variant = next((p for p in unnamed if any(ch in VARIANTS for ch in p.name)), None)
    for person in unnamed:
        serial += 7
        effective = day_between(rnd, FIRST, LAST)
        name = person.name
        if person is variant:
            name = "".join(VARIANTS.get(ch, ch) for ch in name)
        rows.append(
            [
                case_number(rnd, effective.year, serial),
                name,
                "自然人",
                "",
                "",
                chinese_date(person.born),
                "全部未履行",
                chinese_date(effective),
                f"{rnd.randint(2, 300) / 100:.2f}",
                rnd.choice(CAUSES),
                rnd.choice(JUDGES),
            ]
        )
    rnd.shuffle(rows)
    # The export repeats three rows (a paging bug in the court's system).
    for row in rnd.sample(rows, 3):
        rows.insert(rnd.randrange(len(rows)), list(row))
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(COURT_HEADER)
    writer.writerows(rows)
    return buffer.getvalue().encode("gb18030")


# -- the bank ------------------------------------------------------------------------------

EVENTS = [("M1", 0.25), ("M3+", 0.08), ("CARD_M1", 0.22), ("SETTLED_ON_TIME", 0.45)]
PRODUCTS = {"M1": "consumer_loan", "M3+": "consumer_loan", "SETTLED_ON_TIME": "mortgage"}


def bank(rnd: Random, persons: list[Person], orgs: list[Organisation]) -> bytes:
    lines: list[dict[str, object]] = []
    customers: list[Person | Organisation] = [
        *rnd.sample(persons, 60),
        *[o for o in orgs if o.uscc is not None][:8],
    ]
    serial = 0
    for customer in customers:
        for _ in range(rnd.randint(2, 6)):
            serial += 1
            event = rnd.choices([e for e, _ in EVENTS], [w for _, w in EVENTS])[0]
            if isinstance(customer, Organisation) and event == "CARD_M1":
                event = "M1"
            when = day_between(rnd, FIRST, LAST)
            if isinstance(customer, Person):
                who: dict[str, object] = {
                    "type": "individual",
                    "name": customer.name,
                    "id_type": "01",
                    "id_no": customer.ric,
                    "mobile": customer.phone,
                }
            else:
                who = {
                    "type": "corporate",
                    "name": customer.name,
                    "id_type": "51",
                    "id_no": customer.uscc,
                }
            lines.append(
                {
                    "event_id": f"CCB-{when:%Y%m}-{serial:06d}",
                    "event": event,
                    "event_date": when.isoformat(),
                    "customer": who,
                    "account": {
                        "product": "credit_card" if event == "CARD_M1" else PRODUCTS[event],
                        "branch": rnd.choice(DISTRICTS).district,
                    },
                    "amount_fen": rnd.randint(5_000, 5_000_000),
                }
            )
    # Card rows migrated from a legacy system: no identification number.
    for person in rnd.sample(persons, 6):
        serial += 1
        when = day_between(rnd, FIRST, LAST)
        lines.append(
            {
                "event_id": f"CCB-{when:%Y%m}-{serial:06d}",
                "event": "CARD_M1",
                "event_date": when.isoformat(),
                "customer": {
                    "type": "individual",
                    "name": person.name,
                    "birth_date": person.born.isoformat(),
                    "id_type": None,
                    "id_no": None,
                    "mobile": person.phone,
                },
                "account": {"product": "credit_card", "branch": rnd.choice(DISTRICTS).district},
                "amount_fen": rnd.randint(5_000, 200_000),
            }
        )
    lines.sort(key=lambda r: (str(r["event_date"]), str(r["event_id"])))
    # A retransmission: five rows sent again, unchanged, at the end of the file.
    lines.extend(lines[40:45])
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in lines).encode("utf-8")


# -- the rail operator -----------------------------------------------------------------------

RAIL_HEADER = [
    "CASE_ID",
    "STATION",
    "OFFENCE",
    "DATE",
    "NAME",
    "ID_NO",
    "BIRTH",
    "PHONE",
    "FINE_YUAN",
]
STATIONS = ["L1-07", "L1-12", "L2-03", "L3-15", "L4-01", "L5-09", "L11-02"]


def rail(rnd: Random, persons: list[Person]) -> tuple[bytes, bytes]:
    rows: list[list[str]] = []
    for n in range(150):
        person = rnd.choice(persons)
        when = day_between(rnd, FIRST, LAST)
        offence = "TJ01" if rnd.random() < 0.8 else "ZW02"
        fine = str(rnd.choice((20, 50, 100, 200))) if offence == "TJ01" else "200"
        papers = rnd.random() < 0.66
        rows.append(
            [
                f"SZM{when:%Y%m%d}{n:04d}",
                rnd.choice(STATIONS),
                offence,
                f"{when:%Y%m%d}",
                person.name,
                person.ric if papers else "",
                "" if papers else f"{person.born:%Y%m%d}",
                person.phone,
                fine,
            ]
        )
    rows.sort(key=lambda r: (r[3], r[0]))
    fixed = [list(r) for r in rows]
    # Four rows with mistakes in the operator's export; the corrected export fixes them.
    bad = rnd.sample(range(len(rows)), 4)
    rows[bad[0]][2] = "TJ9"  # an offence code that does not exist
    rows[bad[1]][3] = "20260230"  # 30 February
    ric = fixed[bad[2]][5] or rnd.choice(persons).ric
    fixed[bad[2]][5] = ric
    fixed[bad[2]][6] = ""
    rows[bad[2]][5] = ric[:-1] + ("1" if ric[-1] != "1" else "2")  # a wrong check digit
    rows[bad[2]][6] = ""
    rows[bad[3]][8] = "五十"  # the fine in words
    return _rail_csv(rows), _rail_csv(fixed)


def _rail_csv(rows: list[list[str]]) -> bytes:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, delimiter=";", lineterminator="\n")
    writer.writerow(RAIL_HEADER)
    writer.writerows(rows)
    return b"\xef\xbb\xbf" + buffer.getvalue().encode("utf-8")


# -- the food inspectorate -------------------------------------------------------------------

RESULTS = [("优秀", 0.45), ("合格", 0.3), ("不合格", 0.22), ("重大事故", 0.03)]


def food(rnd: Random, orgs: list[Organisation]) -> pa.Table:
    records: list[dict[str, object]] = []
    serial = 0
    for org in [o for o in orgs if o.food]:
        for _ in range(rnd.randint(3, 7)):
            serial += 1
            when = day_between(rnd, FIRST, LAST)
            result = rnd.choices([r for r, _ in RESULTS], [w for _, w in RESULTS])[0]
            fine = None
            if result == "不合格":
                fine = rnd.randint(1, 50) / 100  # 100 to 5,000 yuan
            elif result == "重大事故":
                fine = rnd.randint(5, 50) / 10
            records.append(
                {
                    "inspection_no": f"SZFDA-{when.year}-{serial:05d}",
                    "holder": org.name,
                    "credit_code": org.uscc,
                    "premises": org.address,
                    "result": result,
                    "inspected_on": when,
                    "fine_wan_yuan": fine,
                    "inspector": f"{rnd.choice('ABCDEFG')}{rnd.randint(100, 999)}",
                }
            )
    records.sort(key=lambda r: (r["inspected_on"], r["inspection_no"]))  # type: ignore[return-value]
    records.insert(len(records) // 2, dict(records[len(records) // 3]))  # exported twice
    return pa.table(
        {
            "inspection_no": pa.array([r["inspection_no"] for r in records], pa.string()),
            "holder": pa.array([r["holder"] for r in records], pa.string()),
            "credit_code": pa.array([r["credit_code"] for r in records], pa.string()),
            "premises": pa.array([r["premises"] for r in records], pa.string()),
            "result": pa.array([r["result"] for r in records], pa.string()),
            "inspected_on": pa.array([r["inspected_on"] for r in records], pa.date32()),
            "fine_wan_yuan": pa.array([r["fine_wan_yuan"] for r in records], pa.float64()),
            "inspector": pa.array([r["inspector"] for r in records], pa.string()),
        }
    )


def generate(directory: Path) -> dict[str, Path]:
    """Write every provider's data file under ``directory``; returns name -> path."""
    rnd = Random(2026)
    persons = people(rnd, 80)
    orgs = organisations(rnd, 36)
    files = {
        "intermediate_court/judgments.csv": court(rnd, persons, orgs),
        "city_commercial_bank/repayments.jsonl": bank(rnd, persons, orgs),
    }
    quarantined, corrected = rail(rnd, persons)
    files["city_rail_transit/fare_evasion.csv"] = quarantined
    files["city_rail_transit/fare_evasion.corrected.csv"] = corrected
    written: dict[str, Path] = {}
    for name, data in files.items():
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        written[name] = path
    path = directory / "food_inspectorate" / "inspections.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(food(rnd, orgs), path, compression="zstd", row_group_size=64)
    written["food_inspectorate/inspections.parquet"] = path
    return written


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE
    for path in generate(target).values():
        sys.stdout.write(f"{path} ({path.stat().st_size:,} bytes)\n")
