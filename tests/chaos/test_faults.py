"""The fault injector on its own (moto, no stack): each kind of fault looks to botocore and to
the Lambda runtime as the real thing does, and "after" means the call took effect."""

from __future__ import annotations

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ReadTimeoutError
from moto import mock_aws

from campaign_local import faults, lambdas
from campaign_local.faults import INJECTOR, CallSite, Fault, FaultKind, Schedule, When

pytestmark = pytest.mark.chaos
FUNCTION = "SendBatchFunction"
NO_RETRIES = Config(retries={"mode": "standard", "total_max_attempts": 1})
RETRIES = Config(retries={"mode": "standard", "total_max_attempts": 5})


@pytest.fixture
def aws(monkeypatch):
    for name, value in {
        "AWS_ACCESS_KEY_ID": "x",
        "AWS_SECRET_ACCESS_KEY": "x",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws(), faults.fast_clock():
        faults.install()
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        dynamodb.create_table(
            TableName="t",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="chaos-bucket")
        try:
            yield
        finally:
            faults.uninstall()


def arm(service: str, operation: str, when: When, kind: FaultKind, times: int | None = 1) -> None:
    site = CallSite(function=FUNCTION, service=service, operation=operation)
    INJECTOR.arm(Schedule(fault=Fault(site=site, when=when, kind=kind, times=times)))


def put(config: Config, key: str = "a") -> None:
    boto3.client("dynamodb", region_name="us-east-1", config=config).put_item(TableName="t", Item={"pk": {"S": key}})


def stored(key: str = "a") -> bool:
    return "Item" in boto3.client("dynamodb", region_name="us-east-1").get_item(TableName="t", Key={"pk": {"S": key}})


def test_a_throttle_is_the_services_own_error_and_the_sdk_retries_it(aws):
    arm("dynamodb", "PutItem", When.BEFORE, FaultKind.THROTTLE, times=2)
    with lambdas.running(FUNCTION):
        put(RETRIES)  # two throttles, the third attempt goes through
    assert stored() and len(INJECTOR.fired) == 2
    arm("dynamodb", "PutItem", When.BEFORE, FaultKind.THROTTLE)
    with lambdas.running(FUNCTION), pytest.raises(ClientError) as raised:
        put(NO_RETRIES, "b")
    assert raised.value.response["Error"]["Code"] == "ProvisionedThroughputExceededException"
    assert not stored("b")  # before the call: nothing happened


@pytest.mark.parametrize(
    ("service", "code", "status"),
    [("s3", "SlowDown", 503), ("sesv2", "TooManyRequestsException", 429), ("sfn", "ThrottlingException", 400)],
)
def test_throttles_parse_in_each_protocol(aws, service, code, status):
    calls = {
        "s3": lambda c: c.list_objects_v2(Bucket="chaos-bucket"),
        "sesv2": lambda c: c.get_account(),
        "sfn": lambda c: c.list_state_machines(),
    }
    operation = {"s3": "ListObjectsV2", "sesv2": "GetAccount", "sfn": "ListStateMachines"}[service]
    arm(service, operation, When.BEFORE, FaultKind.THROTTLE)
    client = boto3.client({"sfn": "stepfunctions"}.get(service, service), region_name="us-east-1", config=NO_RETRIES)
    with lambdas.running(FUNCTION), pytest.raises(ClientError) as raised:
        calls[service](client)
    assert raised.value.response["Error"]["Code"] == code
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == status


def test_a_lost_reply_took_effect(aws):
    arm("dynamodb", "PutItem", When.AFTER, FaultKind.LOST_REPLY)
    with lambdas.running(FUNCTION), pytest.raises(ReadTimeoutError):
        put(NO_RETRIES)
    assert stored()


def test_a_5xx_after_the_call_took_effect(aws):
    arm("s3", "PutObject", When.AFTER, FaultKind.SERVER_ERROR)
    s3 = boto3.client("s3", region_name="us-east-1", config=NO_RETRIES)
    with lambdas.running(FUNCTION), pytest.raises(ClientError) as raised:
        s3.put_object(Bucket="chaos-bucket", Key="k", Body=b"x")
    assert raised.value.response["Error"]["Code"] == "InternalError"
    assert s3.get_object(Bucket="chaos-bucket", Key="k")["Body"].read() == b"x"


def test_a_crash_kills_the_invocation_and_every_later_call_of_it(aws):
    arm("dynamodb", "PutItem", When.BEFORE, FaultKind.CRASH)
    with lambdas.running(FUNCTION) as frame:
        with pytest.raises(lambdas.LambdaDied) as died:
            try:
                put(RETRIES)
            except Exception:  # what our code catches: the crash goes through
                pytest.fail("a crash was caught as an Exception")
        assert died.value.error_type == "Runtime.ExitError" and frame.dead
        with pytest.raises(lambdas.LambdaDied):
            put(RETRIES, "b")  # a finally block of a dead process reaches nothing
    assert not stored() and not stored("b")


def test_a_timeout_is_reported_as_lambda_reports_it(aws):
    arm("dynamodb", "PutItem", When.AFTER, FaultKind.TIMEOUT)
    with lambdas.running(FUNCTION), pytest.raises(lambdas.LambdaDied) as died:
        put(RETRIES)
    assert died.value.error_type == "Sandbox.Timedout" and stored()


def test_calls_outside_a_function_are_never_faulted(aws):
    arm("dynamodb", "PutItem", When.BEFORE, FaultKind.CRASH, times=None)
    put(NO_RETRIES)  # the test itself, a poller, moto's workers
    assert stored() and INJECTOR.fired == []


def test_a_fault_that_cannot_happen_is_refused():
    with pytest.raises(ValueError, match="lost_reply fault cannot happen before"):
        Fault(site=CallSite(function="F", service="s3", operation="GetObject"), when=When.BEFORE, kind="lost_reply")
