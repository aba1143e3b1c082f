"""The local stack's moto patches behave as AWS does (and as unpatched moto, where it works)."""

from __future__ import annotations

import json

import boto3
import pytest
from moto import mock_aws

from campaign_local import moto_patches

POLICY = {"$or": [{"eventType": ["Bounce", "Complaint"]}, {"notificationType": ["Bounce"]}]}


@pytest.fixture
def patched():
    with mock_aws():
        moto_patches.install()
        try:
            yield
        finally:
            moto_patches.uninstall()


def _topic_with_filtered_queue(policy: dict) -> tuple[object, object, str, str]:
    sns, sqs = boto3.client("sns", region_name="us-east-1"), boto3.client("sqs", region_name="us-east-1")
    topic = sns.create_topic(Name="events")["TopicArn"]
    url = sqs.create_queue(QueueName="filtered")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(
        TopicArn=topic,
        Protocol="sqs",
        Endpoint=arn,
        Attributes={"FilterPolicy": json.dumps(policy), "FilterPolicyScope": "MessageBody"},
    )
    return sns, sqs, topic, url


def test_a_top_level_or_in_a_body_filter_policy_matches_either_alternative(patched):
    sns, sqs, topic, url = _topic_with_filtered_queue(POLICY)
    bodies = [
        {"eventType": "Bounce"},
        {"eventType": "Delivery"},
        {"notificationType": "Bounce"},
        {"notificationType": "Complaint"},
        {"eventType": "Complaint", "other": 1},
    ]
    for body in bodies:
        sns.publish(TopicArn=topic, Message=json.dumps(body))
    sns.publish(TopicArn=topic, Message="not json")
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    delivered = sorted(json.loads(json.loads(m["Body"])["Message"]).get("eventType", "n") for m in got)
    assert delivered == ["Bounce", "Complaint", "n"]


def test_policies_without_or_are_moto_own(patched):
    sns, sqs, topic, url = _topic_with_filtered_queue({"eventType": ["Open"]})
    sns.publish(TopicArn=topic, Message=json.dumps({"eventType": "Open"}))
    sns.publish(TopicArn=topic, Message=json.dumps({"eventType": "Click"}))
    assert len(sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]) == 1


def test_sqs_counts_are_unchanged_by_the_single_clock_reading(patched):
    sqs = boto3.client("sqs", region_name="us-east-1")
    url = sqs.create_queue(QueueName="counts")["QueueUrl"]
    for i in range(5):
        sqs.send_message(QueueUrl=url, MessageBody=str(i))
    sqs.send_message(QueueUrl=url, MessageBody="later", DelaySeconds=60)
    sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=2, VisibilityTimeout=60)
    names = [
        "ApproximateNumberOfMessages",
        "ApproximateNumberOfMessagesNotVisible",
        "ApproximateNumberOfMessagesDelayed",
    ]
    patched_counts = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
    moto_patches.uninstall()
    original = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
    assert (
        patched_counts
        == original
        == {
            "ApproximateNumberOfMessages": "3",
            "ApproximateNumberOfMessagesNotVisible": "2",
            "ApproximateNumberOfMessagesDelayed": "1",
        }
    )


def test_s3_url_module_is_not_reloaded_per_request(aws):
    """Reloading moto.s3.urls from parallel threads failed with ModuleNotFoundError."""
    from unittest import mock

    import boto3
    from moto.s3 import models as s3_models
    from moto.s3.models import S3Backend

    from campaign_local import moto_patches

    moto_patches.install()
    try:
        assert isinstance(S3Backend.__dict__["_url_module"], property)
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="urls")
        with mock.patch.object(s3_models, "reload", side_effect=AssertionError("reloaded")):
            s3.put_object(Bucket="urls", Key="k", Body=b"x")
            assert s3.get_object(Bucket="urls", Key="k")["Body"].read() == b"x"
    finally:
        moto_patches.uninstall()
