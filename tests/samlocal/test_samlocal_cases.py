"""make sam-local-invoke's case list (samlocal/invoke.py) against template.yaml and events/.

No docker here: the invocations themselves run only in `make sam-local-invoke`. These checks keep
its list honest when a function or an event file is added, renamed or removed.
"""

from __future__ import annotations

from pathlib import Path

from campaign_local import cfn
from samlocal import invoke

ROOT = Path(__file__).resolve().parents[2]


def functions() -> set[str]:
    resources = cfn.load(ROOT / "template.yaml")["Resources"]
    return {name for name, r in resources.items() if r["Type"] == "AWS::Serverless::Function"}


def test_every_function_is_invoked_and_the_quick_set_too() -> None:
    cases = invoke.cases()
    assert {c.function for c in cases} == functions()
    assert {c.function for c in cases if c.quick} == functions()


def test_every_case_reads_an_existing_event_file_or_makes_its_own() -> None:
    for case in invoke.cases():
        assert case.make_event is not None or (ROOT / "events" / case.event).is_file(), case.event


def test_the_run_comes_first_in_order_and_the_schedule_last() -> None:
    cases = invoke.cases()
    order = [c.function for c in cases if c.serial][:9]
    assert order[0] == "StartCampaignFunction" and order.index("PrepareFunction") < order.index("SendBatchFunction")
    assert order.index("SendBatchFunction") < order.index("FinalizeFunction")
    assert cases[-1].event == "start_campaign/schedule.json" and cases[-1].serial


def test_a_poison_batch_expects_exactly_the_record_that_is_not_an_ses_record() -> None:
    for path in ("suppression/poison.json", "engagement/poison.json"):
        (failure,) = invoke._poison_failures(invoke._load(path))
        assert failure["itemIdentifier"]


def test_answers_are_read_by_dotted_path() -> None:
    answer = {"runs": [{"run_id": "r", "started": True}]}
    assert invoke._dig(answer, "runs.0.run_id") == "r"
    assert invoke._dig(answer, "runs.1.run_id") is invoke._MISSING
    assert invoke._dig({"a": None}, "a.b") is invoke._MISSING


def test_printed_problems_carry_no_raw_address() -> None:
    assert invoke._redact("rejected ann@example.com (bounce)") == "rejected <address> (bounce)"
