"""Unsubscribe: a verified token suppresses its address (for all campaigns, or the topic the
campaign sends under) and counts the unsubscribe in the run's report."""

from __future__ import annotations

from datetime import UTC, datetime

from ..adapters.engagement import EngagementStore
from ..config import Settings
from ..domain.addresses import InvalidAddress, address_hash, normalise
from ..domain.ses_events import iso_millis
from ..domain.suppression import UNSUBSCRIBE, Fact
from ..domain.tokens import InvalidToken, UnsubscribeClaim
from ..observability import MetricUnit, logger, metrics
from .engagement import count_unsubscribe
from .suppression import record_fact


def now_iso() -> str:
    return iso_millis(datetime.now(UTC))


def unsubscribe(claim: UnsubscribeClaim, settings: Settings) -> bool:
    """Record the unsubscribe; True when it was new (a repeated POST changes nothing)."""
    try:
        address = normalise(claim.address)
    except InvalidAddress:
        raise InvalidToken("the token names no valid address") from None
    topics = (claim.topic,) if claim.topic else ()
    fact = Fact(
        reason=UNSUBSCRIBE,
        at=now_iso(),
        # One key per address, campaign and topic: the same link clicked twice is one fact.
        key=f"unsubscribe|{claim.campaign_id}|{claim.topic or ''}|{address_hash(address)}",
        campaign_id=claim.campaign_id,
        source="unsubscribe-endpoint",
        detail="topic: " + claim.topic if claim.topic else "all campaigns",
        topics=topics,
    )
    changed = record_fact(settings, address, fact)
    if claim.run_id and settings.engagement_table:
        store = EngagementStore(settings.engagement_table)
        count_unsubscribe(store, claim.run_id, claim.campaign_id, claim.segment, address)
    if changed:
        metrics.add_metric(name="Unsubscribes", unit=MetricUnit.Count, value=1)
    logger.info(
        "unsubscribe", extra={"address_hash": address_hash(address), "campaign_id": claim.campaign_id, "new": changed}
    )
    return changed
