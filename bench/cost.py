"""Dollars per million recipients, from what the bench measured and the prices below.

Every price says where it was read and when. Memory sizes come from template.yaml. What the
bench cannot measure here (network round trips inside a region) is an assumption named in
``LATENCY_SECONDS``; everything else is a measured figure of the same run.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from . import harness

READ = "2026-11-23"
MILLION = 1_000_000
EVENTS_PER_RECIPIENT = 3  # Send, Delivery, Open (or Bounce, Complaint instead)
FULL_VCPU_MB = 1769  # Lambda gives one vCPU at 1,769 MB, a share of it below


@dataclass(frozen=True)
class Price:
    usd: float
    per: float
    unit: str
    source: str
    read: str = READ

    def of(self, quantity: float) -> float:
        return self.usd * quantity / self.per


PRICES = {
    "lambda_gb_second_arm64": Price(
        0.0000133334,
        1,
        "GB-second, arm64, first 7.5 billion GB-s a month, us-east-1",
        "https://cloudchipr.com/blog/aws-lambda-pricing",
    ),
    "lambda_request": Price(
        0.20,
        MILLION,
        "requests",
        "https://git.mcrn.ar/mariano/lambda_local_runner/src/commit/957e45b8adae23ce50b966346229585b5df18b4d/docs/lambdas-md/lambda-13-cost.md?display=rendered",
    ),
    "sfn_standard_transition": Price(
        0.025,
        1000,
        "Standard workflow state transitions (retries included)",
        "http://aws.amazon.com/step-functions/pricing/ and https://docs.unusd.cloud/supported-services/stepfunctions",
    ),
    "sfn_express_request": Price(
        1.00,
        MILLION,
        "Express workflow requests (one per child execution)",
        "https://www.wring.co/blog/aws-step-functions-pricing-guide",
    ),
    "sfn_express_gb_second": Price(
        0.00001667,
        1,
        "Express GB-second; duration rounded up to 100 ms, memory billed in 64 MB chunks",
        "https://www.wring.co/blog/aws-step-functions-pricing-guide and http://aws.amazon.com/step-functions/pricing/",
    ),
    "dynamodb_write_request_unit": Price(
        0.625,
        MILLION,
        "on-demand write request units (1 KB each; transactional writes take 2)",
        "https://airbyte.com/data-engineering-resources/dynamodb-pricing ; units: https://aws.amazon.com/dynamodb/pricing/on-demand/",
    ),
    "dynamodb_read_request_unit": Price(
        0.125,
        MILLION,
        "on-demand read request units (4 KB strongly consistent read)",
        "https://airbyte.com/data-engineering-resources/dynamodb-pricing ; units: https://aws.amazon.com/dynamodb/pricing/on-demand/",
    ),
    "s3_put_request": Price(
        0.005,
        1000,
        "S3 Standard PUT, COPY, POST, LIST requests",
        "https://c3x.dev/blog/s3-request-fees-explained",
    ),
    "s3_get_request": Price(
        0.0004, 1000, "S3 Standard GET, HEAD requests", "https://c3x.dev/blog/s3-request-fees-explained"
    ),
    "sns_publish": Price(
        0.50,
        MILLION,
        "standard topic publishes (64 KB chunks); no delivery charge listed for SQS endpoints",
        "https://www.factualminds.com/blog/amazon-sns-pricing-publishes-fanout-protocols/",
    ),
    "sqs_request": Price(
        0.40,
        MILLION,
        "standard queue requests (64 KB chunks; a 10-message receive or delete is one)",
        "https://cloudburn.io/blog/amazon-sqs-pricing and https://awsnegotiations.com/sqs-sns-cost-optimization.html",
    ),
    "secrets_manager_call": Price(
        0.05,
        10_000,
        "API calls",
        "https://hivebook.wiki/wiki/aws-secrets-manager-rotated-secrets-dynamic-db-credentials-kms",
    ),
    "ses_email": Price(
        0.10,
        1000,
        "emails sent (for scale: not part of what the pipeline adds)",
        "https://www.acecloudinterviews.com/tutorials/aws/ses/",
    ),
}

# Assumed round trip of one API call from Lambda in the same region (not measurable here):
# Lambda bills wall time, so a function waiting on the network pays for it.
LATENCY_SECONDS = {"dynamodb": 0.006, "s3": 0.02, "sesv2": 0.03, "secretsmanager": 0.02, "stepfunctions": 0.03}
SQS_REQUESTS_PER_MESSAGE = 1 + 0.1 + 0.1  # SNS's send, then receives and deletes of 10 messages each


def lambda_seconds(cpu_seconds: float, memory_mb: int) -> float:
    """Wall time of CPU-bound work at a memory size: below 1,769 MB a function gets that share
    of one vCPU (this machine's core is assumed comparable to a Lambda vCPU)."""
    return cpu_seconds * FULL_VCPU_MB / min(memory_mb, FULL_VCPU_MB)


def paced_seconds(worker_rate: float, recipients: int = 50) -> float:
    """How long the real Pacer holds a SendBatch of ``recipients``: the floor of its billed time."""
    from campaign_engine.domain.pacing import Pacer

    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    pacer = Pacer(worker_rate, clock=lambda: now[0], sleep=sleep)
    size = pacer.call_size(50)
    for start in range(0, recipients, size):
        pacer.before_call(min(size, recipients - start))
    pacer.finish()
    return now[0]


def _line(name: str, quantity: float, price: str, note: str = "") -> dict[str, Any]:
    return {"item": name, "quantity": quantity, "price": price, "usd": PRICES[price].of(quantity), "note": note}


def _io_seconds(calls_per_unit: dict[str, float]) -> float:
    return sum(n * LATENCY_SECONDS.get(service, 0.02) for service, n in calls_per_unit.items())


def send_path(throughput: dict[str, Any], memory: dict[str, Any], transitions: dict[str, Any]) -> dict[str, Any]:
    functions = harness.functions()
    mem = {name: spec["memory_mb"] for name, spec in functions.items()}
    ours = throughput["ours"]
    batches = MILLION / 50
    per_million = MILLION / 1000

    # SendBatch: CPU measured per batch, network waits assumed, and the Pacer's hold measured
    # with the real Pacer at the worker rate Prepare planned.
    cpu_batch = ours["send_batch_cpu_seconds_per_batch"]
    io_batch = _io_seconds(throughput["calls_per_1000"]["by_service"]) * 50 / 1000
    work_batch = lambda_seconds(cpu_batch, mem["SendBatch"]) + io_batch
    paced = paced_seconds(ours["worker_rate"])
    billed_batch = max(work_batch, paced)
    gb = mem["SendBatch"] / 1024
    prepare_cpu = memory["cpu_seconds"] * MILLION / memory["rows"]
    finalize_cpu = ours["finalize_cpu_seconds"] * MILLION / ours["recipients"]
    prepare_gb_s = mem["Prepare"] / 1024 * lambda_seconds(prepare_cpu, mem["Prepare"])
    finalize_gb_s = mem["Finalize"] / 1024 * lambda_seconds(finalize_cpu, mem["Finalize"])

    by_op = throughput["calls_per_1000"]["by_operation"]
    s3_get = sum(n for op, n in by_op.items() if op in ("s3:GetObject", "s3:HeadObject")) * per_million + 1
    s3_put = sum(n for op, n in by_op.items() if op.startswith("s3:") and op not in ("s3:GetObject", "s3:HeadObject"))
    s3_put = s3_put * per_million + 2  # + the Map's ResultWriter manifest and results
    ddb = throughput["dynamodb_per_1000"]
    wru = sum(ddb["wru"].values()) * per_million
    rru = sum(ddb["rru"].values()) * per_million
    run = transitions["runs"][-1]
    parent = run["parent_transitions"]
    child_transitions = run["child_transitions_per_child"] * batches
    # Effective rate of the whole Map, for how long the run lasts (Secrets Manager reads are
    # cached five minutes per execution environment).
    concurrency = ours["max_concurrency"]
    run_seconds = batches / concurrency * billed_batch
    secret_reads = concurrency * math.ceil(run_seconds / 300)
    express_gb_s = math.ceil(billed_batch * 10) / 10 * 64 / 1024 * batches

    common = [
        _line(
            "Lambda SendBatch duration (billed while paced)",
            gb * billed_batch * batches,
            "lambda_gb_second_arm64",
            f"{batches:.0f} batches x {billed_batch:.2f} s x {mem['SendBatch']} MB; the Pacer holds each batch "
            f"{paced:.2f} s at {ours['worker_rate']:.2f}/s; the work itself takes {work_batch:.3f} s",
        ),
        _line(
            "Lambda Prepare and Finalize duration",
            prepare_gb_s + finalize_gb_s,
            "lambda_gb_second_arm64",
            f"Prepare {prepare_cpu:.0f} CPU-s at {mem['Prepare']} MB, Finalize {finalize_cpu:.1f} CPU-s",
        ),
        _line(
            "Lambda requests", batches + 4, "lambda_request", "one SendBatch per batch; Start, Prepare, quota, Finalize"
        ),
        _line("DynamoDB writes", wru, "dynamodb_write_request_unit", "counted per item by the stub, transactions x2"),
        _line("DynamoDB reads", rru, "dynamodb_read_request_unit", "suppression lookups, run and batch records"),
        _line("S3 GET", s3_get, "s3_get_request", "batch reads by range, audience, templates"),
        _line("S3 PUT", s3_put, "s3_put_request", "batches, items, rejects (multipart parts), report"),
        _line("Step Functions parent transitions", parent, "sfn_standard_transition", "per run, whatever its size"),
        _line("Secrets Manager reads", secret_reads, "secrets_manager_call", "cached 5 min per worker"),
    ]
    express = [
        _line("Step Functions EXPRESS children: requests", batches, "sfn_express_request", "one child per batch"),
        _line(
            "Step Functions EXPRESS children: duration",
            express_gb_s,
            "sfn_express_gb_second",
            "each child lasts as long as its SendBatch, 64 MB",
        ),
    ]
    standard = [
        _line(
            "Step Functions STANDARD children: transitions",
            child_transitions,
            "sfn_standard_transition",
            f"{run['child_transitions_per_child']:.0f} per child, counted on the local stack",
        ),
    ]
    cpu_only_gb_s = FULL_VCPU_MB / 1024 * cpu_batch * batches
    total = sum(line["usd"] for line in common)
    return {
        "lines": common,
        "children_express": express,
        "children_standard": standard,
        "total_express": total + sum(line["usd"] for line in express),
        "total_standard": total + sum(line["usd"] for line in standard),
        "sendbatch_at_cpu_time_usd": PRICES["lambda_gb_second_arm64"].of(cpu_only_gb_s),
        "total_express_sendbatch_at_cpu_time": total
        - common[0]["usd"]
        + PRICES["lambda_gb_second_arm64"].of(cpu_only_gb_s)
        + sum(line["usd"] for line in express),
        "assumptions": {
            "recipients_per_run": MILLION,
            "account_max_send_rate": ours["max_send_rate"],
            "worker_rate": ours["worker_rate"],
            "max_concurrency": concurrency,
            "paced_seconds_per_batch": paced,
            "latency_seconds": LATENCY_SECONDS,
        },
    }


def feedback_path(feedback: dict[str, Any]) -> dict[str, Any]:
    functions = harness.functions()
    events = EVENTS_PER_RECIPIENT * MILLION
    engagement, suppression = feedback["Engagement"], feedback["Suppression"]
    filtered = events * suppression["events"] / feedback["events"]
    lines = [
        _line("SNS publishes (SES event destination)", events, "sns_publish", "one per SES event"),
        _line(
            "SQS requests, engagement queue",
            events * SQS_REQUESTS_PER_MESSAGE,
            "sqs_request",
            "every event; batched receives and deletes",
        ),
        _line(
            "SQS requests, suppression queue",
            filtered * SQS_REQUESTS_PER_MESSAGE,
            "sqs_request",
            "bounces and complaints only (SNS filter policy)",
        ),
    ]
    for name, measured, count in (("Engagement", engagement, events), ("Suppression", suppression, filtered)):
        memory_mb = functions[name]["memory_mb"]
        invocations = count / (measured["events"] / max(1, measured["invocations"]))
        calls = {k.split(":")[0]: v for k, v in measured["calls_per_event"].items()}
        seconds = lambda_seconds(measured["cpu_seconds_per_invocation"], memory_mb) + _io_seconds(calls) * (
            measured["events"] / max(1, measured["invocations"])
        )
        lines += [
            _line(
                f"Lambda {name} duration",
                memory_mb / 1024 * seconds * invocations,
                "lambda_gb_second_arm64",
                f"{invocations:.0f} invocations x {seconds:.2f} s at {memory_mb} MB",
            ),
            _line(f"Lambda {name} requests", invocations, "lambda_request"),
            _line(
                f"DynamoDB writes, {name.lower()}",
                measured["wru_per_event"] * count,
                "dynamodb_write_request_unit",
                f"{measured['wru_per_event']:.2f} WRU an event",
            ),
            _line(f"DynamoDB reads, {name.lower()}", measured["rru_per_event"] * count, "dynamodb_read_request_unit"),
        ]
    return {"lines": lines, "total": sum(line["usd"] for line in lines), "events_per_recipient": EVENTS_PER_RECIPIENT}


def model(throughput: dict[str, Any], memory: dict[str, Any], transitions: dict[str, Any], feedback: dict[str, Any]):
    return {
        "prices": {name: asdict(price) for name, price in PRICES.items()},
        "send": send_path(throughput, memory, transitions),
        "feedback": feedback_path(feedback),
        "ses_for_scale_usd": PRICES["ses_email"].of(MILLION),
        "targets": {"send": 0.50, "feedback": 1.50},
    }
