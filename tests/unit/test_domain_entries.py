"""The entry life cycle (domain/entries.py): every transition, legal and illegal, without AWS."""

from __future__ import annotations

import pytest
from campaign_engine.domain.entries import (
    OUTCOME_OF,
    BatchRecord,
    BatchState,
    EntryState,
    IllegalTransition,
    outcome_counts,
)
from campaign_engine.domain.outcomes import OUTCOMES, Outcome
from hypothesis import given, settings
from hypothesis import strategies as st

S = EntryState
# transition -> (states it may start from (None: an entry the record does not have), state it ends in)
LIFE_CYCLE = {
    "suppressed": ({None, S.PENDING, S.RELEASED}, S.SUPPRESSED),
    "duplicate": ({None, S.PENDING, S.RELEASED}, S.DUPLICATE),
    "begin_call": ({None, S.PENDING, S.RELEASED}, S.INFLIGHT),
    "sent": ({S.INFLIGHT}, S.SENT),
    "rejected": ({S.INFLIGHT}, S.FAILED),
    "not_accepted": ({S.INFLIGHT}, S.PENDING),
    "maybe_sent": ({S.INFLIGHT}, S.UNKNOWN),
    "released": ({S.INFLIGHT, S.PENDING}, S.RELEASED),
    "confirmed": ({S.UNKNOWN}, S.SENT),
    "release_unknown": ({S.UNKNOWN}, S.RELEASED),
}
STARTS = [None, *EntryState]


def record_with(state: EntryState | None) -> BatchRecord:
    record = BatchRecord(segment="s")
    if state is not None:
        record.entries["h"] = state
    return record


@pytest.mark.parametrize("transition", sorted(LIFE_CYCLE))
@pytest.mark.parametrize("start", STARTS, ids=lambda s: s.value if s else "new")
def test_each_transition_from_each_state(transition: str, start: EntryState | None) -> None:
    allowed, target = LIFE_CYCLE[transition]
    record = record_with(start)
    if start in allowed:
        getattr(record, transition)(["h"])
        assert record.entries["h"] is target
    else:
        with pytest.raises(IllegalTransition, match=transition):
            getattr(record, transition)(["h"])
        assert record.state_of("h") is start  # an illegal transition changes nothing


def test_an_interrupted_attempt_makes_only_in_flight_entries_unknown() -> None:
    record = BatchRecord(segment="s")
    record.begin_call(["a", "b"])
    record.sent(["a"])
    record.begin_call(["c"])
    record.entries["d"] = S.PENDING

    assert sorted(record.interrupted()) == ["b", "c"]
    assert record.entries == {"a": S.SENT, "b": S.UNKNOWN, "c": S.UNKNOWN, "d": S.PENDING}
    assert record.interrupted() == []  # a second recovery finds nothing


def test_final_states_never_move_again_and_only_new_or_pending_entries_are_sendable() -> None:
    final = {S.SENT, S.FAILED, S.SUPPRESSED, S.DUPLICATE}
    for state in final:
        leaving = [t for t, (allowed, _) in LIFE_CYCLE.items() if state in allowed]
        assert leaving == [], state
    assert {s for s in STARTS if record_with(s).sendable("h")} == {None, S.PENDING, S.RELEASED}


def test_every_state_has_an_outcome_and_in_flight_reads_as_unknown() -> None:
    assert set(OUTCOME_OF) == set(EntryState)
    assert OUTCOME_OF[S.INFLIGHT] is Outcome.UNKNOWN
    assert OUTCOME_OF[S.PENDING] is Outcome.NOT_SENT
    assert set(outcome_counts([])) == set(OUTCOMES)


def test_the_stored_document_round_trips() -> None:
    record = BatchRecord(segment="vip")
    record.begin_call(["a", "b"])
    record.sent(["a"])
    record.maybe_sent(["b"])
    record.finish(waiting=False)
    document = record.to_document()

    assert document["counts"] == {**dict.fromkeys(OUTCOMES, 0), "sent": 1, "unknown": 1}
    stored = {**document, "updated_at": 1, "expires_at": 2, "pk": "RUN#r", "sk": "BATCH#00000001"}
    assert BatchRecord.model_validate(stored) == record
    # Records written before the model had no state: they read as OPEN.
    assert BatchRecord.model_validate({"segment": "s", "entries": {"x": "SENT"}}).state is BatchState.OPEN


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(sorted(LIFE_CYCLE)), st.integers(0, 3)), max_size=40))
def test_any_sequence_of_transitions_follows_the_life_cycle(steps: list[tuple[str, int]]) -> None:
    """Whatever the send path asks in whatever order: a legal step moves exactly its entry to
    its target, an illegal one raises and changes nothing, and a SENT entry is never sent again
    (no path from SENT leads back to INFLIGHT)."""
    record = BatchRecord(segment="s")
    ever_sent: set[str] = set()
    for transition, n in steps:
        entry = f"e{n}"
        before = dict(record.entries)
        allowed, target = LIFE_CYCLE[transition]
        if before.get(entry) in allowed:
            getattr(record, transition)([entry])
            assert record.entries == {**before, entry: target}
        else:
            with pytest.raises(IllegalTransition):
                getattr(record, transition)([entry])
            assert record.entries == before
        if record.entries.get(entry) is S.SENT:
            ever_sent.add(entry)
        for sent in ever_sent:
            assert record.entries[sent] is S.SENT
            assert not record.sendable(sent)
        assert sum(record.counts.values()) == len(record.entries)
