"""The per-run reputation breaker: pause a run whose mail starts to bounce or draw complaints.

SES reviews an account at a 5% bounce rate and a 0.1% complaint rate and may pause it above
10% / 0.5%. A run that goes bad (a stale list, a bought list) should stop itself long before
it drags the whole account there, so each run watches its own rates:

    bounce rate    = hard bounces / (deliveries + hard bounces)
    complaint rate = complaints / deliveries

Both are over mail whose fate SES already reported, so the rates are meaningful while the run
is still sending. They are judged only once ``min_sends`` such outcomes exist and a rate rests
on at least ``min_events`` bounces or complaints: at 0.1%, one early complaint among the first
thousand deliveries is chance, not a bad list. After a resume the breaker judges only what happened
since (``baseline``): the operator has looked, and a clean restart deserves a clean slate.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field


class BreakerSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    bounce_rate: float = Field(default=0.05, gt=0, le=1)
    complaint_rate: float = Field(default=0.001, gt=0, le=1)
    min_sends: int = Field(default=1000, ge=1)
    min_events: int = Field(default=3, ge=1)


@dataclass(frozen=True)
class Tally:
    delivered: int
    bounced: int  # hard bounces
    complained: int

    @property
    def judged(self) -> int:
        return self.delivered + self.bounced

    @property
    def bounce_rate(self) -> float:
        return self.bounced / self.judged if self.judged else 0.0

    @property
    def complaint_rate(self) -> float:
        return self.complained / self.delivered if self.delivered else 0.0


def tally(counts: dict[str, int], baseline: dict[str, int] | None = None) -> Tally:
    """The run's counters (``domain.engagement``) minus those at the last resume."""
    base = baseline or {}

    def since(name: str) -> int:
        return max(0, int(counts.get(name, 0)) - int(base.get(name, 0)))

    return Tally(delivered=since("delivery"), bounced=since("hard_bounce"), complained=since("complaint"))


def trip_reason(
    settings: BreakerSettings, counts: dict[str, int], baseline: dict[str, int] | None = None
) -> str | None:
    """Why the run must pause, or None while it is healthy."""
    now = tally(counts, baseline)
    if not settings.enabled or now.judged < settings.min_sends:
        return None
    if now.bounced >= settings.min_events and now.bounce_rate >= settings.bounce_rate:
        return (
            f"breaker: bounce rate {now.bounce_rate:.2%} ({now.bounced} hard bounces of {now.judged} delivered "
            f"or bounced messages) reached the threshold {settings.bounce_rate:.2%}"
        )
    if now.complained >= settings.min_events and now.complaint_rate >= settings.complaint_rate:
        return (
            f"breaker: complaint rate {now.complaint_rate:.2%} ({now.complained} complaints of {now.delivered} "
            f"delivered messages) reached the threshold {settings.complaint_rate:.2%}"
        )
    return None
