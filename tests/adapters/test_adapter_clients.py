"""Adapters use the client they are given, and the CLI's session rather than the environment."""

from __future__ import annotations

import boto3
import pytest
from campaign_engine.adapters import aws
from campaign_engine.adapters.ledger import Ledger
from campaign_engine.adapters.runs import RunStore
from moto import mock_aws


@pytest.fixture
def moto(monkeypatch: pytest.MonkeyPatch):
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        aws.reset()
        yield
    aws.reset()


def make_table(dynamodb, name: str, key: list[tuple[str, str]]) -> None:
    dynamodb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": k, "KeyType": t} for k, t in key],
        AttributeDefinitions=[{"AttributeName": k, "AttributeType": "S"} for k, _ in key],
        BillingMode="PAY_PER_REQUEST",
    )


def test_a_store_uses_the_client_it_is_given(moto) -> None:
    # The table exists only in eu-west-1: a store that fell back to the default client (us-east-1)
    # would not find it.
    elsewhere = boto3.client("dynamodb", region_name="eu-west-1")
    make_table(elsewhere, "runs", [("pk", "HASH"), ("sk", "RANGE")])
    make_table(elsewhere, "ledger", [("pk", "HASH")])

    store = RunStore("runs", dynamodb=elsewhere)
    store.start_run("c", "r", {"occurrence": "once"})
    assert store.get_run("c", "r")["status"] == "RUNNING"
    ledger = Ledger("ledger", dynamodb=elsewhere)
    reservation = ledger.reserve(
        campaign_id="c", occurrence="once", run_id="r", batch=0, addresses=["a@example.com"], expires_at=None
    )
    assert reservation.reserved == ["a@example.com"]

    with pytest.raises(Exception, match="ResourceNotFoundException"):
        RunStore("runs").get_run("c", "r")


def test_the_default_clients_come_from_the_session_in_use(moto) -> None:
    aws.use_session(boto3.Session(region_name="eu-central-1"), endpoint_url="http://127.0.0.1:9")
    made = aws.client("dynamodb")
    assert made.meta.region_name == "eu-central-1"
    assert made.meta.endpoint_url == "http://127.0.0.1:9"
    # The sending client keeps its own retry policy whatever the session.
    assert aws.client(aws.SES_SEND).meta.config.retries["total_max_attempts"] == 1
    aws.reset()
    assert aws.client("dynamodb").meta.region_name == "us-east-1"
