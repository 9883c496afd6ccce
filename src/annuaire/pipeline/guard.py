"""The update's guard against a partial source: a truncated upstream export is a valid file that
would mark most of the directory deleted.

An update is refused (exit code 2, the directory untouched) when it would remove more than
`--max-removed` of the active declarations (default 5 %), or when the snapshot holds fewer rows
than `--min-rows` (default 90 % of the rows of the last snapshot accepted, by a build or an update).
Each limit is a share (`5%`) or a number (`200`). `--force` applies such an update anyway. The
decision, with its figures, goes in the update report (`garde`) and the log.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ..errors import EXIT_INPUT, AnnuaireError, InputError

MAX_REMOVED = "5%"
MIN_ROWS = "90%"


class PartialSource(AnnuaireError):
    """The snapshot looks partial: the update is refused. `report` is the update's report, saying so."""

    exit_code = EXIT_INPUT

    def __init__(self, message: str, report: dict[str, Any]):
        super().__init__(message)
        self.report = report


@dataclass(frozen=True)
class Limit:
    """A share of a reference figure (`5%`), or a number (`200`)."""

    value: float
    share: bool
    text: str

    @classmethod
    def parse(cls, text: str, option: str) -> Limit:
        raw = text.strip().replace(" ", "").replace(",", ".")
        try:
            if raw.endswith("%"):
                value = float(raw[:-1])
                if not 0 <= value <= 100:
                    raise ValueError
                return cls(value, True, text.strip())
            if not raw.isdigit():
                raise ValueError
            return cls(int(raw), False, text.strip())
        except ValueError:
            raise InputError(
                option, f"{text!r}: expected a share such as 5% or a whole number such as 200"
            ) from None

    def of(self, reference: int, *, round_up: bool) -> int:
        """The limit as a number, for this reference figure."""
        if not self.share:
            return int(self.value)
        exact = reference * self.value / 100
        return math.ceil(exact - 1e-9) if round_up else math.floor(exact + 1e-9)


@dataclass(frozen=True)
class Guard:
    max_removed: Limit = Limit(5, True, MAX_REMOVED)
    min_rows: Limit = Limit(90, True, MIN_ROWS)
    force: bool = False

    @classmethod
    def from_options(cls, max_removed: str | None, min_rows: str | None, force: bool = False) -> Guard:
        return cls(
            Limit.parse(max_removed or MAX_REMOVED, "--max-removed"),
            Limit.parse(min_rows or MIN_ROWS, "--min-rows"),
            force,
        )

    def decide(self, *, active: int, removed: int, rows: int, last_rows: int | None) -> dict[str, Any]:
        """The decision and its figures (the update report's `garde`)."""
        most_removed = self.max_removed.of(active, round_up=False)
        fewest_rows = self.min_rows.of(last_rows if last_rows is not None else rows, round_up=True)
        reasons = []
        if removed > most_removed:
            reasons.append("max_removed")
        if rows < fewest_rows:
            reasons.append("min_rows")
        decision = "accepted" if not reasons else ("forced" if self.force else "refused")
        return {
            "decision": decision,
            "reasons": reasons,
            "removed": removed,
            "active": active,
            "max_removed": most_removed,
            "max_removed_option": self.max_removed.text,
            "rows": rows,
            "min_rows": fewest_rows,
            "min_rows_option": self.min_rows.text,
            "last_accepted_rows": last_rows,
        }


def refusal_message(db: str, g: dict[str, Any]) -> str:
    share = g["removed"] / g["active"] if g["active"] else 0.0
    last = f", the last snapshot accepted had {g['last_accepted_rows']:,}" if g["last_accepted_rows"] else ""
    return (
        f"{db}: update refused, the snapshot looks partial: it would remove {g['removed']:,} of the "
        f"{g['active']:,} active declarations ({share:.1%}; --max-removed {g['max_removed_option']} allows "
        f"{g['max_removed']:,}) and it holds {g['rows']:,} rows (--min-rows {g['min_rows_option']} asks for "
        f"at least {g['min_rows']:,}{last}). The directory is left untouched; --force applies it anyway."
    )
