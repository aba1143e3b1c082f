"""CheckQuota: between passes of the Map, decide whether the run waits for the daily quota.

SES's quota is a rolling 24 hours (``Max24HourSend - SentLast24Hours``), so quota comes back
continuously as the sends of yesterday age out. While a run waits, the state machine asks
again every ``QUOTA_RECHECK_SECONDS``; once any quota is back the Map runs again, and only the
batches that did not finish send (the others are DONE in their batch records).
"""

from __future__ import annotations

from typing import Any

from ..adapters import ses
from ..adapters.runs import ACTIVE, RunStore, now
from ..config import Settings
from ..domain.pacing import daily_remaining
from ..observability import logger

DONE, WAIT, CONTINUE = "DONE", "WAIT", "CONTINUE"


def remaining_quota() -> int | None:
    """None: SES reports no limit."""
    quota = ses.get_account().get("SendQuota", {})
    return daily_remaining(float(quota.get("Max24HourSend", 0)), float(quota.get("SentLast24Hours", 0)))


def check(state: dict[str, Any], settings: Settings) -> dict[str, Any]:
    campaign_id, run_id = state["campaign_id"], state["run_id"]
    store = RunStore(settings.runs_table, settings.run_record_ttl_days)
    record = store.get_run(campaign_id, run_id) or {}
    wait = record.get("quota_wait")
    if not wait or record.get("status") != ACTIVE:
        return {"status": DONE, "wait_seconds": 0}
    remaining = remaining_quota()
    if remaining is None or remaining > 0:
        store.end_quota_wait(campaign_id, run_id, int(wait.get("since", now())), remaining)
        logger.info("daily quota is back: the run continues", extra={"remaining": remaining})
        return {"status": CONTINUE, "wait_seconds": 0}
    checks = int(wait.get("checks", 0)) + 1
    store.update_run(
        campaign_id,
        run_id,
        {
            "quota_wait": {
                **wait,
                "checks": checks,
                "checked_at": now(),
                "next_check_in": settings.quota_recheck_seconds,
            }
        },
        only_if_status=ACTIVE,
    )
    logger.info("daily quota still spent: waiting", extra={"checks": checks, "seconds": settings.quota_recheck_seconds})
    return {"status": WAIT, "wait_seconds": settings.quota_recheck_seconds}
