"""Suppression: bounces, complaints and unsubscribes from SES events keep the address off
every later send (see ``domain.suppression`` for how facts fold into a record)."""

from __future__ import annotations

from ..adapters import ses
from ..adapters.suppression import SuppressionList
from ..config import Settings
from ..domain.addresses import address_hash
from ..domain.ses_events import SesEvent
from ..domain.suppression import SES_REASONS, SUPPRESSED, Fact, SoftBouncePolicy, facts_from_event
from ..observability import logger


def policy(settings: Settings) -> SoftBouncePolicy:
    return SoftBouncePolicy(limit=settings.soft_bounce_limit, window_days=settings.soft_bounce_window_days)


def record_fact(settings: Settings, address: str, fact: Fact) -> bool:
    """Fold one fact in; True when the address became (or stays newly) suppressed by it."""
    store = SuppressionList(settings.suppression_table)
    record, changed = store.record(address, fact, policy(settings))
    suppressed = record.get("status") == SUPPRESSED
    if changed:
        logger.info(
            "suppression record updated",
            extra={
                "address_hash": address_hash(address),
                "reason": fact.reason,
                "status": record.get("status"),
                "scope": record.get("scope"),
            },
        )
    if suppressed and settings.sync_account_suppression and fact.reason in SES_REASONS:
        # SES's own list then also protects sends made outside this engine. Also when the record
        # did not change: a crash after the write and before this call left SES without it, and
        # the redelivered event finds the record already written. The call is idempotent.
        ses.put_suppressed_destination(address, SES_REASONS[fact.reason])
    return changed and suppressed


def handle_event(event: SesEvent, settings: Settings) -> int:
    """Apply one SES event; returns how many addresses it changed."""
    changed = 0
    for address, fact in facts_from_event(event):
        changed += record_fact(settings, address, fact)
    return changed
