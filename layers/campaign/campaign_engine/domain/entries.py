"""The life cycle of a recipient in a batch: the only legal transitions, and what a crash at
each point means.

A batch record (runs table) holds one state per recipient, by address hash. It is written
before and after every SES call, so whatever attempt reads it next knows how far the last one
got. SES has no idempotency token: this record and the send ledger are the only guards
against sending twice.

    (new)|PENDING|RELEASED --suppressed--> SUPPRESSED      final
    (new)|PENDING|RELEASED --duplicate---> DUPLICATE       final (the ledger holds it for another run)
    (new)|PENDING|RELEASED --begin_call--> INFLIGHT        saved just before the SES call (after the wait)
    INFLIGHT --sent--------> SENT                          SES accepted it (per-entry SUCCESS)
    INFLIGHT --rejected----> FAILED                        SES refused this entry for good
    INFLIGHT --not_accepted-> PENDING                      throttled, over quota, refused before acceptance
    INFLIGHT --maybe_sent--> UNKNOWN                       the call's fate is unknown (lost reply, 5xx)
    INFLIGHT --interrupted-> UNKNOWN                       a retry found the attempt died during the call
    INFLIGHT|PENDING --released--> RELEASED                the run stopped: SES did not take it (a retry sends it)
    UNKNOWN --confirmed----> SENT                          reconcile found SES's Send event for it
    UNKNOWN --released-----> RELEASED                      an operator released it after the window

A crash is safe at every point because of what is saved when:
- before ``begin_call`` is saved: the entries are PENDING (or new); a retry sends them.
- after ``begin_call`` is saved, before the results are saved: they may have been sent; a retry
  makes them UNKNOWN (``interrupted``) and never sends them again.
- after the results are saved: each entry is final or PENDING; a retry sends only the PENDING.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import Enum

from pydantic import BaseModel, ConfigDict, Field

from .outcomes import Outcome, empty_counts


class EntryState(str, Enum):
    PENDING = "PENDING"
    INFLIGHT = "INFLIGHT"
    SENT = "SENT"
    FAILED = "FAILED"
    UNKNOWN = "UNKNOWN"
    SUPPRESSED = "SUPPRESSED"
    DUPLICATE = "DUPLICATE"
    RELEASED = "RELEASED"


class BatchState(str, Enum):
    OPEN = "OPEN"  # entries still to send (or being sent)
    WAITING = "WAITING"  # the daily quota ran out: the PENDING entries go after the wait
    DONE = "DONE"  # nothing left to send: a retry of this batch sends nothing


# The report's outcome for each entry state. INFLIGHT reads as unknown: if a run ends with an
# entry in flight, its call may have been accepted.
OUTCOME_OF: dict[EntryState, Outcome] = {
    EntryState.PENDING: Outcome.NOT_SENT,
    EntryState.INFLIGHT: Outcome.UNKNOWN,
    EntryState.SENT: Outcome.SENT,
    EntryState.FAILED: Outcome.FAILED,
    EntryState.UNKNOWN: Outcome.UNKNOWN,
    EntryState.SUPPRESSED: Outcome.SUPPRESSED,
    EntryState.DUPLICATE: Outcome.DUPLICATE,
    EntryState.RELEASED: Outcome.NOT_SENT,
}

_NEW = None  # an entry the record does not have yet
_ALLOWED: dict[str, tuple[EntryState | None, ...]] = {
    # RELEASED: SES never took it and its reservation is free, so a retry of the run sends it.
    "suppressed": (_NEW, EntryState.PENDING, EntryState.RELEASED),
    "duplicate": (_NEW, EntryState.PENDING, EntryState.RELEASED),
    "begin_call": (_NEW, EntryState.PENDING, EntryState.RELEASED),
    "sent": (EntryState.INFLIGHT,),
    "rejected": (EntryState.INFLIGHT,),
    "not_accepted": (EntryState.INFLIGHT,),
    "maybe_sent": (EntryState.INFLIGHT,),
    "interrupted": (EntryState.INFLIGHT,),
    "released": (EntryState.INFLIGHT, EntryState.PENDING),
    "confirmed": (EntryState.UNKNOWN,),
    "release_unknown": (EntryState.UNKNOWN,),
}
_TARGET: dict[str, EntryState] = {
    "suppressed": EntryState.SUPPRESSED,
    "duplicate": EntryState.DUPLICATE,
    "begin_call": EntryState.INFLIGHT,
    "sent": EntryState.SENT,
    "rejected": EntryState.FAILED,
    "not_accepted": EntryState.PENDING,
    "maybe_sent": EntryState.UNKNOWN,
    "interrupted": EntryState.UNKNOWN,
    "released": EntryState.RELEASED,
    "confirmed": EntryState.SENT,
    "release_unknown": EntryState.RELEASED,
}


class IllegalTransition(Exception):
    """A bug, never bad input: the send path asked for a transition the life cycle forbids
    (for example sending an entry that is already SENT)."""

    def __init__(self, entry: str, transition: str, state: EntryState | None) -> None:
        super().__init__(f"entry {entry[:12]}: {transition} is not allowed from {state.value if state else 'new'}")


def outcome_counts(states: Iterable[EntryState]) -> dict[str, int]:
    counts = empty_counts()
    for state in states:
        counts[OUTCOME_OF[state].value] += 1
    return counts


class BatchRecord(BaseModel):
    """One batch's record; ``entries`` maps address hash to state. The methods are the only
    way the send path changes an entry (each checks the transition is legal)."""

    model_config = ConfigDict(extra="ignore", validate_assignment=False)

    segment: str
    state: BatchState = BatchState.OPEN
    entries: dict[str, EntryState] = Field(default_factory=dict)

    # -- reading ---------------------------------------------------------------------------

    def state_of(self, entry: str) -> EntryState | None:
        return self.entries.get(entry)

    def sendable(self, entry: str) -> bool:
        """Never attempted, attempted and not accepted, or released when the run stopped (a
        `campaign retry` sends it): may go to SES now."""
        return self.entries.get(entry) in (None, EntryState.PENDING, EntryState.RELEASED)

    def with_state(self, state: EntryState) -> list[str]:
        return [h for h, s in self.entries.items() if s is state]

    @property
    def counts(self) -> dict[str, int]:
        return outcome_counts(self.entries.values())

    @property
    def done(self) -> bool:
        return self.state is BatchState.DONE

    def to_document(self) -> dict[str, object]:
        """What the runs table stores (entries and counts as plain strings and numbers)."""
        return {
            "segment": self.segment,
            "state": self.state.value,
            "entries": {h: s.value for h, s in self.entries.items()},
            "counts": self.counts,
        }

    # -- transitions -----------------------------------------------------------------------

    def _move(self, transition: str, entries: Iterable[str]) -> None:
        allowed, target = _ALLOWED[transition], _TARGET[transition]
        for entry in entries:
            current = self.entries.get(entry)
            if current not in allowed:
                raise IllegalTransition(entry, transition, current)
            self.entries[entry] = target

    def suppressed(self, entries: Iterable[str]) -> None:
        """On the suppression list now: never sent by this run (final)."""
        self._move("suppressed", entries)

    def duplicate(self, entries: Iterable[str]) -> None:
        """The ledger says another run (or batch) holds or sent it (final for this run)."""
        self._move("duplicate", entries)

    def begin_call(self, entries: Iterable[str]) -> None:
        """Saved right before the SES call, after any pacing wait: a crash from here until the
        results are saved means these may have been sent."""
        self._move("begin_call", entries)

    def sent(self, entries: Iterable[str]) -> None:
        """SES accepted them."""
        self._move("sent", entries)

    def rejected(self, entries: Iterable[str]) -> None:
        """SES refused them for good; their ledger reservations are released (FAILED)."""
        self._move("rejected", entries)

    def not_accepted(self, entries: Iterable[str]) -> None:
        """SES took none of them (throttled, over the daily quota): they may be sent again."""
        self._move("not_accepted", entries)

    def maybe_sent(self, entries: Iterable[str]) -> None:
        """The call's fate is unknown (its reply was lost, or SES answered 5xx): never sent
        again by this run; reconcile may later confirm them."""
        self._move("maybe_sent", entries)

    def interrupted(self) -> list[str]:
        """An earlier attempt died during a call: its INFLIGHT entries become UNKNOWN."""
        lost = self.with_state(EntryState.INFLIGHT)
        self._move("interrupted", lost)
        return lost

    def released(self, entries: Iterable[str]) -> None:
        """The run stopped before SES took them: not sent, and free for a later run."""
        self._move("released", entries)

    def confirmed(self, entries: Iterable[str]) -> None:
        """SES's Send event shows it accepted these UNKNOWN entries."""
        self._move("confirmed", entries)

    def release_unknown(self, entries: Iterable[str]) -> None:
        """An operator released UNKNOWN entries with no Send event after the window."""
        self._move("release_unknown", entries)

    def finish(self, *, waiting: bool) -> None:
        self.state = BatchState.WAITING if waiting else BatchState.DONE
