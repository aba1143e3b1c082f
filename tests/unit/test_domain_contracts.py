"""Task contracts, outcome counting, error shapes and validation messages."""

from __future__ import annotations

import pytest
from campaign_engine.domain.contracts import (
    Batch,
    BatchItem,
    PrepareOutput,
    Recipient,
    RunInput,
    SendBatchInput,
    SendBatchOutput,
    SendContext,
)
from campaign_engine.domain.errors import (
    AccountLevelError,
    AudienceError,
    CampaignError,
    DefinitionError,
    TemplateError,
)
from campaign_engine.domain.outcomes import OUTCOMES, Outcome, add_counts, empty_counts
from campaign_engine.domain.validation import describe
from pydantic import BaseModel, ConfigDict, ValidationError

# --- outcomes ------------------------------------------------------------------------------------


def test_outcomes_cover_the_issue_list():
    assert {"sent", "suppressed", "invalid", "duplicate", "skipped", "failed", "unknown"} <= set(OUTCOMES)
    assert len(set(OUTCOMES)) == len(OUTCOMES)
    assert Outcome("sent") is Outcome.SENT


def test_empty_counts():
    counts = empty_counts()
    assert counts == dict.fromkeys(OUTCOMES, 0)
    counts["sent"] += 1
    assert empty_counts()["sent"] == 0  # a fresh dict each time


def test_add_counts_sums_and_keeps_every_outcome():
    total = add_counts({"sent": 2, "invalid": 1}, {"sent": 3, "duplicate": 4})
    assert total == {**empty_counts(), "sent": 5, "invalid": 1, "duplicate": 4}
    assert list(total) == list(OUTCOMES)


def test_add_counts_leaves_its_inputs_alone():
    left, right = {"sent": 1}, {"sent": 2}
    add_counts(left, right)
    assert left == {"sent": 1} and right == {"sent": 2}


# --- errors --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "code"),
    [
        (DefinitionError, "invalid_campaign_definition"),
        (TemplateError, "template_error"),
        (AudienceError, "audience_error"),
    ],
)
def test_campaign_errors_have_stable_codes(kind, code):
    error = kind("something is wrong", where="file.csv: line 3")
    assert isinstance(error, CampaignError)
    assert error.to_dict() == {"code": code, "message": "something is wrong", "where": "file.csv: line 3"}
    assert str(error) == "file.csv: line 3: something is wrong"


def test_campaign_error_without_where():
    error = CampaignError("bad")
    assert error.to_dict() == {"code": "campaign_error", "message": "bad"}
    assert str(error) == "bad"


def test_account_level_error_keeps_reason():
    error = AccountLevelError("MessageRejected", "Email address is not verified.")
    assert error.reason == "MessageRejected"
    assert str(error) == "MessageRejected: Email address is not verified."


# --- validation messages -------------------------------------------------------------------------


class _Inner(BaseModel):
    model_config = ConfigDict(extra="forbid")
    value: int


class _Outer(BaseModel):
    model_config = ConfigDict(extra="forbid")
    items: list[_Inner]
    name: str


def test_describe_names_nested_locations_and_joins_problems():
    with pytest.raises(ValidationError) as info:
        _Outer.model_validate({"items": [{"value": 1}, {"value": "x", "extra": 1}]})
    message = describe(info.value)
    parts = message.split("; ")
    assert any(part.startswith("items[1].value:") for part in parts)
    assert any(part.startswith("items[1].extra:") and "not permitted" in part for part in parts)
    assert any(part.startswith("name:") and "required" in part.lower() for part in parts)
    assert "https://" not in message  # no pydantic documentation URLs


def test_describe_top_level():
    with pytest.raises(ValidationError) as info:
        _Outer.model_validate([1, 2])
    assert describe(info.value).startswith("(top level):")


def test_describe_drops_the_value_error_prefix():
    from pydantic import field_validator

    class Checked(BaseModel):
        name: str

        @field_validator("name")
        @classmethod
        def _no_x(cls, value: str) -> str:
            if "x" in value:
                raise ValueError("no x allowed")
            return value

    with pytest.raises(ValidationError) as info:
        Checked(name="xx")
    assert describe(info.value) == "name: no x allowed"


# --- contracts -----------------------------------------------------------------------------------

CONTEXT = {
    "campaign_id": "recipe",
    "run_id": "r1",
    "occurrence": "once",
    "from_address": "a@example.com",
    "segments": {"s": {"template": "t"}},
    "batches_key": "runs/recipe/r1/batches.jsonl",
    "worker_rate": 1.0,
}


def test_send_batch_input_round_trip():
    document = {"context": CONTEXT, "item": {"batch": 0, "segment": "s", "count": 50, "offset": 0, "length": 10}}
    parsed = SendBatchInput.model_validate(document)
    assert parsed.context.segments["s"].data == {}
    assert SendBatchInput.model_validate(parsed.model_dump(mode="json")) == parsed


@pytest.mark.parametrize(
    "item",
    [
        {"batch": 0, "segment": "s", "count": 0, "offset": 0, "length": 1},
        {"batch": 0, "segment": "s", "count": 51, "offset": 0, "length": 1},
        {"batch": 0, "segment": "s", "count": 1, "offset": -1, "length": 1},
        {"batch": 0, "segment": "s", "count": 1, "offset": 0, "length": 0},
        {"batch": 0, "segment": "s", "count": 1, "offset": 0, "length": 1, "extra": True},
    ],
)
def test_batch_item_limits(item):
    with pytest.raises(ValidationError):
        BatchItem.model_validate(item)


def test_batch_holds_one_to_fifty_recipients():
    one = Recipient(email="a@example.com", line=2)
    Batch(batch=0, segment="s", template="t", recipients=[one] * 50)
    for count in (0, 51):
        with pytest.raises(ValidationError):
            Batch(batch=0, segment="s", template="t", recipients=[one] * count)


def test_contracts_reject_unknown_keys():
    with pytest.raises(ValidationError, match="surprise"):
        SendContext.model_validate({**CONTEXT, "surprise": 1})


def test_run_input_trigger_values():
    base = {"campaign_id": "c", "run_id": "r", "occurrence": "once", "audience": {"key": "incoming/c/a.csv"}}
    for trigger in ("upload", "schedule", "manual"):
        assert RunInput.model_validate({**base, "trigger": trigger}).trigger == trigger
    with pytest.raises(ValidationError):
        RunInput.model_validate({**base, "trigger": "email"})


def test_outputs_default_to_zero_counts():
    assert SendBatchOutput(batch=1, segment="s").counts == empty_counts()
    assert PrepareOutput(status="EMPTY").max_concurrency == 1
    with pytest.raises(ValidationError):
        PrepareOutput(status="DONE")
