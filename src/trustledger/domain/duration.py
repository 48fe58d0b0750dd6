"""Calendar durations written as ``"5y"``, ``"18m"``, ``"6w"`` or ``"90d"``.

Years and months are calendar months (``"1y"`` from 29 February ends on 28 February of
the next year); weeks and days are days. A policy writes durations this way because
"stops counting after five years" is what a law says, not "after 1826 days".
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, timedelta

from trustledger.errors import DurationError

__all__ = ["Duration", "add_months"]

_PART = re.compile(r"(\d+)\s*([ymwd])")
_WHOLE = re.compile(r"^\s*(?:\d+\s*[ymwd]\s*)+$")


def add_months(day: date, months: int) -> date:
    """Add calendar months, clamping to the month's last day.

    >>> add_months(date(2024, 2, 29), 12)
    datetime.date(2025, 2, 28)
    """
    index = day.year * 12 + (day.month - 1) + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last))


@dataclass(frozen=True, slots=True, order=True)
class Duration:
    """A calendar duration: whole months plus whole days.

    >>> Duration.parse("1y6m")
    Duration(months=18, days=0)
    >>> Duration.parse("90d").after(date(2026, 1, 1))
    datetime.date(2026, 4, 1)
    """

    months: int = 0
    days: int = 0

    @classmethod
    def parse(cls, value: object) -> Duration:
        if isinstance(value, Duration):
            return value
        if not isinstance(value, str):
            raise DurationError(value, 'write it as a string such as "5y", "18m", "6w" or "90d"')
        if not _WHOLE.match(value):
            raise DurationError(
                value, "use whole numbers with y (years), m (months), w (weeks) or d (days)"
            )
        months = days = 0
        for number, unit in _PART.findall(value):
            n = int(number)
            if unit == "y":
                months += 12 * n
            elif unit == "m":
                months += n
            elif unit == "w":
                days += 7 * n
            else:
                days += n
        if months == 0 and days == 0:
            raise DurationError(value, "a duration must be longer than zero")
        return cls(months=months, days=days)

    def after(self, start: date) -> date:
        """The date this duration after ``start``."""
        return add_months(start, self.months) + timedelta(days=self.days)

    def approx_days(self) -> float:
        """Length in days, a month counted as 365.2425 / 12 days (for decay rates)."""
        return self.months * 365.2425 / 12 + self.days

    def __str__(self) -> str:
        parts = []
        years, months = divmod(self.months, 12)
        if years:
            parts.append(f"{years}y")
        if months:
            parts.append(f"{months}m")
        if self.days:
            parts.append(f"{self.days}d")
        return "".join(parts) or "0d"

    def describe(self) -> str:
        """Plain English: ``"2 years 6 months"``."""
        years, months = divmod(self.months, 12)
        words = []
        for n, unit in ((years, "year"), (months, "month"), (self.days, "day")):
            if n:
                words.append(f"{n} {unit}{'s' if n != 1 else ''}")
        return " ".join(words) or "0 days"
