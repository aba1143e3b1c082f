"""The IAM audit's own parts without AWS: call -> requirements mapping and policy evaluation."""

from __future__ import annotations

from typing import Any

import pytest

from campaign_local import cfn
from campaign_local.iam_audit import (
    ApiCall,
    AwsNames,
    Decision,
    Principal,
    Requirement,
    RolePolicies,
    UnmappedCall,
    Via,
    requirements,
)

REGION, ACCOUNT = "us-east-1", "123456789012"
NAMES = AwsNames(REGION, ACCOUNT, {"example.com", "boss@example.com"}, {})
SENDER = Principal("SendBatchFunction", Via.HANDLER)


def policies(statements: list[Any], parameters: dict[str, str] | None = None, **props: Any) -> RolePolicies:
    template = {
        "Parameters": {"Flag": {"Default": "false"}},
        "Conditions": {"FlagOn": {"Fn::Equals": [{"Ref": "Flag"}, "true"]}},
        "Resources": {
            "Fn": {"Type": "AWS::Serverless::Function", "Properties": {"Policies": statements, **props}},
            "Table": {"Type": "AWS::DynamoDB::Table"},
        },
    }
    resolver = cfn.Resolver(template, REGION, ACCOUNT, "stack", parameters or {}, {"Table": "stack-Table"})
    resolver.attributes[("Table", "Arn")] = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/stack-Table"
    return RolePolicies.from_template(template, "Fn", resolver)


def decide(role: RolePolicies, service: str, operation: str, params: dict[str, Any], error: str | None = None):
    call = ApiCall(SENDER, service, operation, params, error)
    return [(r.action, r.resource, role.evaluate(r).decision) for r in requirements(call, NAMES)]


def test_a_read_by_version_needs_get_object_version_and_a_missing_key_needs_list_bucket():
    role = policies([{"Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/in/*"}]}])
    assert decide(role, "s3", "GetObject", {"Bucket": "b", "Key": "in/a.csv"}) == [
        ("s3:GetObject", "arn:aws:s3:::b/in/a.csv", Decision.ALLOWED)
    ]
    assert decide(role, "s3", "GetObject", {"Bucket": "b", "Key": "in/a.csv", "VersionId": "v1"}) == [
        ("s3:GetObjectVersion", "arn:aws:s3:::b/in/a.csv", Decision.IMPLICIT_DENY)
    ]
    assert decide(role, "s3", "HeadObject", {"Bucket": "b", "Key": "in/gone"}, error="404")[1] == (
        "s3:ListBucket",
        "arn:aws:s3:::b",
        Decision.IMPLICIT_DENY,
    )


def test_wildcards_case_and_explicit_deny():
    role = policies(
        [
            {
                "Statement": [
                    {"Effect": "Allow", "Action": "SQS:Receive*", "Resource": "*"},
                    {"Effect": "Allow", "Action": "s3:PutObject", "Resource": "arn:aws:s3:::b/runs/?/*"},
                    {
                        "Effect": "Deny",
                        "Action": "sqs:ReceiveMessage",
                        "NotResource": f"arn:aws:sqs:{REGION}:{ACCOUNT}:own",
                    },
                ]
            }
        ]
    )
    own, other = (f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{q}" for q in ("own", "other"))
    assert decide(role, "sqs", "ReceiveMessage", {"QueueUrl": own})[0][2] is Decision.ALLOWED
    assert decide(role, "sqs", "ReceiveMessage", {"QueueUrl": other})[0][2] is Decision.EXPLICIT_DENY
    assert decide(role, "s3", "PutObject", {"Bucket": "b", "Key": "runs/x/report.json"})[0][2] is Decision.ALLOWED
    assert (
        decide(role, "s3", "PutObject", {"Bucket": "b", "Key": "runs/xy/report.json"})[0][2] is Decision.IMPLICIT_DENY
    )
    # ARNs are case-sensitive, action names are not.
    assert decide(role, "s3", "PutObject", {"Bucket": "B", "Key": "runs/x/r"})[0][2] is Decision.IMPLICIT_DENY


def test_conditions_and_conditional_statements():
    key = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/k"
    secret = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:s-AbCdEf"
    statements = [
        {
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": "kms:Decrypt",
                    "Resource": key,
                    "Condition": {"StringEquals": {"kms:ViaService": f"secretsmanager.{REGION}.amazonaws.com"}},
                },
                {
                    "Fn::If": [
                        "FlagOn",
                        {"Effect": "Allow", "Action": "ses:PutSuppressedDestination", "Resource": "*"},
                        {"Ref": "AWS::NoValue"},
                    ]
                },
            ]
        },
        {"AWSSecretsManagerGetSecretValuePolicy": {"SecretArn": secret}},
    ]
    names = AwsNames(REGION, ACCOUNT, set(), {secret: key})
    role = policies(statements)
    verdicts = [
        role.evaluate(r)
        for r in requirements(ApiCall(SENDER, "secretsmanager", "GetSecretValue", {"SecretId": secret}), names)
    ]
    assert [(v.requirement.action, v.decision) for v in verdicts] == [
        ("secretsmanager:GetSecretValue", Decision.ALLOWED),
        ("kms:Decrypt", Decision.ALLOWED),
    ]
    # The same key outside Secrets Manager (no kms:ViaService in the request) is not allowed.
    assert role.evaluate(Requirement("kms:Decrypt", key, "direct")).decision is Decision.IMPLICIT_DENY
    suppress = ApiCall(SENDER, "sesv2", "PutSuppressedDestination", {"EmailAddress": "a@b.c", "Reason": "BOUNCE"})
    assert [role.evaluate(r).decision for r in requirements(suppress, names)] == [Decision.IMPLICIT_DENY]
    flag_on = policies(statements, {"Flag": "true"})
    assert [flag_on.evaluate(r).decision for r in requirements(suppress, names)] == [Decision.ALLOWED]


def test_sam_policy_templates_expand_as_sam_documents_them():
    role = policies([{"DynamoDBReadPolicy": {"TableName": {"Ref": "Table"}}}])
    table = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/stack-Table"
    assert decide(role, "dynamodb", "Query", {"TableName": "stack-Table", "IndexName": "by-run"}) == [
        ("dynamodb:Query", f"{table}/index/by-run", Decision.ALLOWED)
    ]
    assert decide(role, "dynamodb", "PutItem", {"TableName": "stack-Table"})[0][2] is Decision.IMPLICIT_DENY
    transact = {
        "TransactItems": [
            {"ConditionCheck": {"TableName": "stack-Table"}},
            {"Update": {"TableName": "stack-Table"}},
        ]
    }
    assert [d for _, _, d in decide(role, "dynamodb", "TransactWriteItems", transact)] == [Decision.IMPLICIT_DENY] * 2
    with pytest.raises(ValueError, match="SAM policy template S3WritePolicy is not vendored"):
        policies([{"S3WritePolicy": {"BucketName": "b"}}])


def test_send_bulk_email_is_authorised_on_identity_configuration_set_and_template():
    base = {"DefaultContent": {"Template": {"TemplateName": "welcome"}}, "ConfigurationSetName": "cs"}
    arn = f"arn:aws:ses:{REGION}:{ACCOUNT}"

    def resources(**params: Any) -> list[str]:
        call = ApiCall(SENDER, "sesv2", "SendBulkEmail", {**base, **params})
        return [r.resource for r in requirements(call, NAMES)]

    assert resources(FromEmailAddress="Team <news@example.com>") == [
        f"{arn}:identity/example.com",
        f"{arn}:configuration-set/cs",
        f"{arn}:template/welcome",
    ]
    # An address verified on its own is the identity SES authorises, not its domain.
    assert resources(FromEmailAddress="boss@example.com")[0] == f"{arn}:identity/boss@example.com"
    assert resources(FromEmailAddress="x@example.com", FromEmailAddressIdentityArn=f"{arn}:identity/other.org")[0] == (
        f"{arn}:identity/other.org"
    )


def test_a_call_without_a_mapping_is_an_error_naming_the_call():
    with pytest.raises(UnmappedCall, match=r"SendBatchFunction: sesv2.DeleteContactList"):
        requirements(ApiCall(SENDER, "sesv2", "DeleteContactList", {}), NAMES)
