"""Recurring-run triggers: KFP's 6-field cron (``"0 * * * * *"``, seconds first) and periodic intervals.

Cron follows robfig/cron, which KFP's ScheduledWorkflow controller uses: fields ``second minute hour
day-of-month month day-of-week`` (a 5-field spec gets second 0), ``*``/``?``, ranges, lists, steps,
month and weekday names, and the descriptors ``@yearly`` ... ``@hourly`` and ``@every 1m30s``.
Times are UTC.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

__all__ = ["CronSchedule", "parse_duration"]

_MONTHS = {
    name: i + 1
    for i, name in enumerate(["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"])
}
_DAYS = {name: i for i, name in enumerate(["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"])}
_DESCRIPTORS = {
    "@yearly": "0 0 0 1 1 *",
    "@annually": "0 0 0 1 1 *",
    "@monthly": "0 0 0 1 * *",
    "@weekly": "0 0 0 * * 0",
    "@daily": "0 0 0 * * *",
    "@midnight": "0 0 0 * * *",
    "@hourly": "0 0 * * * *",
}
_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_MAX_YEARS = 5


def parse_duration(text: str) -> float:
    """Parse a Go duration (``"90s"``, ``"1h30m"``) to seconds.

    Raises:
        ValueError: not a positive Go duration.
    """
    compact = text.strip()
    position, total = 0, 0.0
    for match in _DURATION_PART.finditer(compact):
        if match.start() != position:
            break
        total += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        position = match.end()
    if not compact or position != len(compact) or total <= 0:
        raise ValueError(f"invalid duration {text!r}; expected e.g. '30s', '5m' or '1h30m'")
    return total


def _parse_field(text: str, low: int, high: int, names: dict[str, int] | None) -> tuple[frozenset[int], bool]:
    """One cron field → allowed values, and whether it was unrestricted (``*`` / ``?``)."""
    values: set[int] = set()
    star = False
    for part in text.split(","):
        if not part:
            raise ValueError(f"empty list item in cron field {text!r}")
        step = 1
        if "/" in part:
            part, step_text = part.split("/", 1)
            if not step_text.isdigit() or int(step_text) == 0:
                raise ValueError(f"invalid step in cron field {text!r}")
            step = int(step_text)
        if part in ("*", "?"):
            start, end = low, high
            star = star or step == 1
        elif "-" in part:
            first, last = part.split("-", 1)
            start, end = _value(first, names), _value(last, names)
        else:
            start = _value(part, names)
            end = high if step > 1 else start
        if not (low <= start <= high and low <= end <= high and start <= end):
            raise ValueError(f"cron field {text!r} is out of range {low}-{high}")
        values.update(range(start, end + 1, step))
    return frozenset(values), star


def _value(text: str, names: dict[str, int] | None) -> int:
    if names and text.upper() in names:
        return names[text.upper()]
    if not text.isdigit():
        raise ValueError(f"invalid cron value {text!r}")
    return int(text)


@dataclass(frozen=True)
class CronSchedule:
    """A parsed cron spec (or ``@every`` interval) that computes the next fire time."""

    seconds: frozenset[int]
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]
    day_star: bool
    weekday_star: bool
    every: float | None = None

    @classmethod
    def parse(cls, spec: str) -> CronSchedule:
        """Parse a cron spec.

        Raises:
            ValueError: the spec is not valid cron, with the reason.
        """
        text = spec.strip()
        if text.startswith("@every"):
            interval = parse_duration(text[len("@every") :])
            empty: frozenset[int] = frozenset()
            return cls(empty, empty, empty, empty, empty, empty, True, True, every=max(1.0, interval))
        text = _DESCRIPTORS.get(text.lower(), text)
        fields = text.split()
        if len(fields) == 5:
            fields = ["0", *fields]
        if len(fields) != 6:
            raise ValueError(f"invalid cron spec {spec!r}: expected 6 fields (second minute hour day month weekday)")
        seconds, _ = _parse_field(fields[0], 0, 59, None)
        minutes, _ = _parse_field(fields[1], 0, 59, None)
        hours, _ = _parse_field(fields[2], 0, 23, None)
        days, day_star = _parse_field(fields[3], 1, 31, None)
        months, _ = _parse_field(fields[4].upper(), 1, 12, _MONTHS)
        weekdays, weekday_star = _parse_field(fields[5].upper(), 0, 7, _DAYS)
        weekdays = frozenset(day % 7 for day in weekdays)  # 7 is Sunday too
        return cls(seconds, minutes, hours, days, months, weekdays, day_star, weekday_star)

    def _day_matches(self, moment: datetime) -> bool:
        day_ok = moment.day in self.days
        weekday_ok = (moment.isoweekday() % 7) in self.weekdays
        if self.day_star or self.weekday_star:
            return day_ok and weekday_ok
        return day_ok or weekday_ok

    def next_after(self, after: float) -> float | None:
        """The first fire time strictly after ``after`` (epoch seconds), or None within 5 years."""
        if self.every is not None:
            return after + self.every
        moment = datetime.fromtimestamp(int(after), UTC) + timedelta(seconds=1)
        limit = moment.year + _MAX_YEARS
        while moment.year <= limit:
            if moment.month not in self.months:
                year, month = (moment.year + 1, 1) if moment.month == 12 else (moment.year, moment.month + 1)
                moment = moment.replace(year=year, month=month, day=1, hour=0, minute=0, second=0)
                continue
            if not self._day_matches(moment):
                moment = (moment + timedelta(days=1)).replace(hour=0, minute=0, second=0)
                continue
            if moment.hour not in self.hours:
                moment = (moment + timedelta(hours=1)).replace(minute=0, second=0)
                continue
            if moment.minute not in self.minutes:
                moment = (moment + timedelta(minutes=1)).replace(second=0)
                continue
            if moment.second not in self.seconds:
                moment += timedelta(seconds=1)
                continue
            return moment.timestamp()
        return None
