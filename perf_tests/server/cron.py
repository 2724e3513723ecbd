"""Recurring-run triggers: cron as robfig/cron v1.2.0 ``cron.Parse`` reads it, and Go durations.

KFP (``go.mod`` pins ``github.com/robfig/cron v1.2.0``) validates a recurring run's cron with
``cron.Parse`` (``server/api_converter.go``) and the ScheduledWorkflow controller fires it with the same
parser (``crd/controller/scheduledworkflow/util/cron_schedule.go``). That parser is
``Second | Minute | Hour | Dom | Month | DowOptional | Descriptor``: the **seconds field comes first** and
the day-of-week field is optional, so a 5-field ``*/5 * * * *`` means *every 5 seconds*, not every 5
minutes. Fields accept ``*``/``?``, ``a-b``, ``a/step`` (meaning ``a-max/step``), lists, and lower- or
upper-case month and weekday names; weekdays are 0-6 (7 is out of range). Descriptors are
case-sensitive: ``@yearly`` ... ``@hourly`` and ``@every <Go duration>`` (rounded down to whole seconds,
at least 1 s). Day-of-month and day-of-week are ORed only when neither field starts with ``*``/``?``
(``SpecSchedule.dayMatches``). Times are UTC.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

__all__ = ["CronSchedule", "parse_duration"]

_MONTHS = {
    name: i + 1
    for i, name in enumerate(["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"])
}
_DAYS = {name: i for i, name in enumerate(["sun", "mon", "tue", "wed", "thu", "fri", "sat"])}
# parseDescriptor: exact, case-sensitive names.
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


def parse_duration(text: str, *, allow_zero: bool = False) -> float:
    """Parse a Go duration (``"90s"``, ``"1h30m"``) to seconds.

    Raises:
        ValueError: not a positive (or, with ``allow_zero``, zero) Go duration.
    """
    compact = text.strip()
    position, total = 0, 0.0
    for match in _DURATION_PART.finditer(compact):
        if match.start() != position:
            break
        total += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        position = match.end()
    if compact == "0" and allow_zero:
        return 0.0
    if not compact or position != len(compact) or total < 0 or (total == 0 and not allow_zero):
        raise ValueError(f"invalid duration {text!r}; expected e.g. '30s', '5m' or '1h30m'")
    return total


def _parse_field(text: str, low: int, high: int, names: dict[str, int] | None) -> tuple[frozenset[int], bool]:
    """One field as ``getField``/``getRange`` read it → allowed values, and its star bit (``*`` or ``?``)."""
    values: set[int] = set()
    star = False
    for part in (p for p in text.split(",") if p):  # strings.FieldsFunc drops empty items
        range_and_step = part.split("/")
        if len(range_and_step) > 2:
            raise ValueError(f"cron field {text!r}: too many slashes in {part!r}")
        low_high = range_and_step[0].split("-")
        if low_high[0] in ("*", "?"):
            start, end = low, high
            star = True  # getRange sets starBit for "*" and "?" even with a step
        else:
            if len(low_high) > 2:
                raise ValueError(f"cron field {text!r}: too many hyphens in {part!r}")
            start = _value(low_high[0], names)
            end = _value(low_high[1], names) if len(low_high) == 2 else start
        step = 1
        if len(range_and_step) == 2:
            step = _value(range_and_step[1], None)
            if len(low_high) == 1:
                end = high  # "N/step" means "N-max/step"
        if start < low:
            raise ValueError(f"cron field {text!r}: beginning of range ({start}) below minimum ({low})")
        if end > high:
            raise ValueError(f"cron field {text!r}: end of range ({end}) above maximum ({high})")
        if start > end:
            raise ValueError(f"cron field {text!r}: beginning of range ({start}) beyond end of range ({end})")
        if step == 0:
            raise ValueError(f"cron field {text!r}: step of range should be a positive number")
        values.update(range(start, end + 1, step))
    return frozenset(values), star


def _value(text: str, names: dict[str, int] | None) -> int:
    if names and text.lower() in names:
        return names[text.lower()]
    if not text.isdigit():
        raise ValueError(f"invalid cron value {text!r}: not a number" + (" or a name" if names else ""))
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
        """Parse a spec as robfig/cron v1.2.0 ``cron.Parse`` does (seconds first, 5 or 6 fields).

        Raises:
            ValueError: the spec is not valid cron, with the reason.
        """
        if not spec:
            raise ValueError("empty cron spec string")
        if spec.startswith("@"):
            if spec.startswith("@every "):
                # Every(): at least 1 s, sub-second parts truncated.
                interval = max(1.0, math.floor(parse_duration(spec[len("@every ") :], allow_zero=True) + 1e-9))
                empty: frozenset[int] = frozenset()
                return cls(empty, empty, empty, empty, empty, empty, True, True, every=interval)
            if spec not in _DESCRIPTORS:
                raise ValueError(f"unrecognized cron descriptor {spec!r}")
            spec = _DESCRIPTORS[spec]
        fields = spec.split()
        if not 5 <= len(fields) <= 6:
            raise ValueError(
                f"invalid cron spec {spec!r}: expected 5 to 6 fields (second minute hour day-of-month month "
                f"[day-of-week]), found {len(fields)}"
            )
        if len(fields) == 5:
            fields.append("*")  # DowOptional: a missing day-of-week is "*"
        seconds, _ = _parse_field(fields[0], 0, 59, None)
        minutes, _ = _parse_field(fields[1], 0, 59, None)
        hours, _ = _parse_field(fields[2], 0, 23, None)
        days, day_star = _parse_field(fields[3], 1, 31, None)
        months, _ = _parse_field(fields[4], 1, 12, _MONTHS)
        weekdays, weekday_star = _parse_field(fields[5], 0, 6, _DAYS)
        return cls(seconds, minutes, hours, days, months, weekdays, day_star, weekday_star)

    def _day_matches(self, moment: datetime) -> bool:
        day_ok = moment.day in self.days
        weekday_ok = (moment.isoweekday() % 7) in self.weekdays
        if self.day_star or self.weekday_star:
            return day_ok and weekday_ok
        return day_ok or weekday_ok

    def next_after(self, after: float) -> float | None:
        """The first fire time strictly after ``after`` (epoch seconds), or None within 5 years
        (``SpecSchedule.Next`` / ``ConstantDelaySchedule.Next``: whole seconds)."""
        if self.every is not None:
            return math.floor(after) + self.every
        moment = datetime.fromtimestamp(math.floor(after), UTC) + timedelta(seconds=1)
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
