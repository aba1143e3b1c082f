"""IAM audit of the local stack: every AWS call a function makes, checked against its own policy.

Three parts, used by tests/iam:

1. :class:`CallRecorder` registers botocore event handlers (``provide-client-params`` and
   ``after-call``) on every client created while it is installed and attributes each call to
   the principal whose role AWS would check: the function whose handler is running (a context
   variable set around the handler), a function's SQS event source mapping (the local pollers'
   threads; Lambda polls with the function's role), or the state machine's role (moto's Step
   Functions interpreter builds its clients with the access key ``ak``). Calls the test harness
   makes itself have no principal and are not recorded.
2. :func:`requirements` maps one call to the IAM actions and resource ARNs AWS authorises, from
   the Service Authorization Reference, adding what AWS checks that moto does not (the version
   of an S3 object read by VersionId, the identity, configuration set and template SES
   authorises for a send, the KMS key Secrets Manager decrypts with for the caller).
3. :class:`RolePolicies` reads a function's (or the state machine's) ``Policies`` from
   template.yaml, expands the SAM policy templates it uses as SAM defines them (vendored
   below) plus the managed policies SAM attaches, resolves intrinsics against the local
   stack's names, and evaluates a requirement as IAM does: an explicit Deny wins, then any
   Allow, else the implicit deny; Action/NotAction and Resource/NotResource with ``*`` and
   ``?`` wildcards; the condition operators the template uses.

Sources (consulted December 2026):
- Service Authorization Reference: Amazon S3 (list_amazons3.html), Amazon DynamoDB
  (list_amazondynamodb.html), Amazon Simple Email Service v2 (list_amazonsimpleemailservicev2.html),
  AWS Secrets Manager, AWS Key Management Service, AWS Step Functions, AWS Lambda, Amazon SQS,
  all under https://docs.aws.amazon.com/service-authorization/latest/reference/.
- GetObject with a versionId needs s3:GetObjectVersion, not s3:GetObject; HeadObject needs the
  same read permission as GetObject: S3 API reference, GetObject "versionId" and HeadObject
  "Permissions" (https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html,
  API_HeadObject.html). Without s3:ListBucket a missing key answers 403 instead of 404 (same page).
- DynamoDB transactions are authorised per item by PutItem/UpdateItem/DeleteItem/GetItem and
  dynamodb:ConditionCheckItem: https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis-iam.html
- SES SendBulkEmail authorises the sending identity (FromEmailAddressIdentityArn, else the
  identity that verifies FromEmailAddress), the configuration set and the template:
  list_amazonsimpleemailservicev2.html (resource types identity*, configuration-set, template)
  and https://docs.aws.amazon.com/ses/latest/APIReference-V2/API_SendBulkEmail.html.
- SAM policy templates: aws/serverless-application-model,
  samtranslator/policy_templates_data/policy_templates.json at commit
  013ec109893d6fbb6ea2e148f37f1f5eb34471a1 (vendored in SAM_POLICY_TEMPLATES, unchanged).
- Managed policies SAM attaches: AWSLambdaBasicExecutionRole (every function) and
  AWSLambdaSQSQueueExecutionRole (a function with an SQS event), AWS Managed Policy reference,
  https://docs.aws.amazon.com/aws-managed-policy/latest/reference/AWSLambdaBasicExecutionRole.html
  and .../AWSLambdaSQSQueueExecutionRole.html (the three SQS actions on "*", as template.yaml's
  PollOnlyOwnQueue comment says).
"""

from __future__ import annotations

import contextlib
import contextvars
import copy
import fnmatch
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache
from typing import Any
from urllib.parse import urlparse

import botocore.session

from . import cfn, lambdas

# ------------------------------------------------------------------------------------ principals


class Via(StrEnum):
    """How a call reached AWS, which decides whose role AWS checks."""

    HANDLER = "handler"  # the function's own code
    EVENT_SOURCE = "SQS event source mapping"  # Lambda polling the queue with the function's role
    STATE_MACHINE = "state machine"  # Step Functions with the state machine's role


@dataclass(frozen=True)
class Principal:
    role_of: str  # logical id in template.yaml whose Policies apply
    via: Via

    def __str__(self) -> str:
        return self.role_of if self.via is Via.HANDLER else f"{self.role_of} ({self.via})"


@dataclass
class ApiCall:
    principal: Principal
    service: str  # botocore service name: s3, dynamodb, sesv2, ...
    operation: str  # API operation: GetObject, SendBulkEmail, ...
    params: dict[str, Any]
    error: str | None = None  # the error code AWS (moto) answered, if any

    def __str__(self) -> str:
        return f"{self.principal}: {self.service}.{self.operation}"


_CURRENT_FUNCTION: contextvars.ContextVar[str | None] = contextvars.ContextVar("iam_audit_function", default=None)
_POLLER_PREFIX = "sqs-poller-"  # thread names of campaign_local.pollers
_STATE_MACHINE_KEY = "ak"  # moto.stepfunctions.parser.asl.utils.boto_client.boto_client_for


@dataclass
class CallRecorder:
    """Records every AWS call a principal of the stack makes while installed."""

    state_machine: str  # logical id of the state machine whose role moto's interpreter stands for
    calls: list[ApiCall] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @contextlib.contextmanager
    def installed(self) -> Iterator[CallRecorder]:
        """Hook client creation (every botocore session) and handler invocation until exit.

        Install before the stack starts: clients cached before that are not hooked."""
        original_create = botocore.session.Session.create_client
        original_load = lambdas.load_handler
        recorder = self

        def create_client(session: botocore.session.Session, *args: Any, **kwargs: Any) -> Any:
            client = original_create(session, *args, **kwargs)
            recorder._hook(client, from_state_machine=kwargs.get("aws_access_key_id") == _STATE_MACHINE_KEY)
            return client

        def load_handler(code: lambdas.FunctionCode) -> Callable[[Any, Any], Any]:
            handler = original_load(code)

            def attributed(event: Any, context: Any) -> Any:
                token = _CURRENT_FUNCTION.set(code.logical_id)
                try:
                    return handler(event, context)
                finally:
                    _CURRENT_FUNCTION.reset(token)

            return attributed

        botocore.session.Session.create_client = create_client
        lambdas.load_handler = load_handler
        try:
            yield self
        finally:
            botocore.session.Session.create_client = original_create
            lambdas.load_handler = original_load

    def _hook(self, client: Any, *, from_state_machine: bool) -> None:
        service = client.meta.service_model.service_name
        key = f"iam-audit-{id(self)}"

        def before(params: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
            principal = self._principal(from_state_machine)
            if principal is None:
                return
            call = ApiCall(principal, service, model.name, copy.deepcopy(_plain(params)))
            context[key] = call
            with self._lock:
                self.calls.append(call)

        def after(parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
            call = context.get(key)
            if call is not None and isinstance(parsed, dict):
                call.error = (parsed.get("Error") or {}).get("Code")

        # Emitted as provide-client-params.<service>.<operation> / after-call.<service>.<operation>:
        # the bare prefix catches every operation of this client.
        client.meta.events.register("provide-client-params", before)
        client.meta.events.register("after-call", after)

    def _principal(self, from_state_machine: bool) -> Principal | None:
        function = _CURRENT_FUNCTION.get()
        if function is not None:
            return Principal(function, Via.HANDLER)
        thread = threading.current_thread().name
        if thread.startswith(_POLLER_PREFIX):
            code = lambdas.REGISTRY.functions.get(thread[len(_POLLER_PREFIX) :])
            return Principal(code.logical_id, Via.EVENT_SOURCE) if code else None
        if from_state_machine:
            return Principal(self.state_machine, Via.STATE_MACHINE)
        return None


def _plain(value: Any) -> Any:
    """Request parameters without file bodies (only their presence matters to IAM)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if k != "Body"}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


# ---------------------------------------------------------------------------- requirements


@dataclass(frozen=True)
class Requirement:
    """One IAM authorisation AWS makes for a call."""

    action: str  # service prefix and action, e.g. s3:GetObjectVersion
    resource: str  # the ARN AWS checks, or "*" for actions without a resource type
    why: str  # what in the call needs it
    context: tuple[tuple[str, str], ...] = ()  # condition keys AWS sets, e.g. kms:ViaService

    @property
    def has_resource_type(self) -> bool:
        return self.resource != "*"


@dataclass
class AwsNames:
    """What the mapping needs to know about the account, beyond the call's own parameters."""

    region: str
    account: str
    verified_identities: set[str]  # SES identities: addresses and domains
    secret_keys: dict[str, str]  # secret ARN -> ARN of the KMS key that encrypts it

    def arn(self, service: str, resource: str) -> str:
        return f"arn:aws:{service}:{self.region}:{self.account}:{resource}"

    def ses_identity(self, from_address: str) -> str:
        """The identity SES authorises a From address against: the address when it is itself a
        verified identity, else its domain (as the local SES decides which identity sent)."""
        address = _bare_address(from_address)
        return address if address in self.verified_identities else address.rpartition("@")[2]


def _bare_address(value: str) -> str:
    match = re.search(r"<([^>]+)>\s*$", value)
    return (match.group(1) if match else value).strip()


class UnmappedCall(Exception):
    """A call whose IAM authorisation this module does not know yet: add it to _MAPPERS."""


_Mapper = Callable[[dict[str, Any], AwsNames], list[Requirement]]


def _s3_object(bucket: str, key: str) -> str:
    return f"arn:aws:s3:::{bucket}/{key}"  # S3 ARNs carry no region or account


def _s3_read(p: dict[str, Any], n: AwsNames) -> list[Requirement]:
    target = _s3_object(p["Bucket"], p["Key"])
    if p.get("VersionId"):
        return [
            Requirement(
                "s3:GetObjectVersion", target, "read by VersionId (the version the S3 event or a HeadObject named)"
            )
        ]
    return [Requirement("s3:GetObject", target, "read the current version")]


def _s3(action: str, why: str) -> _Mapper:
    return lambda p, n: [Requirement(action, _s3_object(p["Bucket"], p["Key"]), why)]


def _s3_bucket(action: str, why: str) -> _Mapper:
    return lambda p, n: [Requirement(action, f"arn:aws:s3:::{p['Bucket']}", why)]


def _table(n: AwsNames, name: str, index: str | None = None) -> str:
    # TableName may already be an ARN (DynamoDB accepts both).
    base = name if name.startswith("arn:") else n.arn("dynamodb", f"table/{name}")
    return f"{base}/index/{index}" if index else base


def _dynamodb(action: str) -> _Mapper:
    return lambda p, n: [Requirement(f"dynamodb:{action}", _table(n, p["TableName"], p.get("IndexName")), action)]


def _dynamodb_batch(action: str) -> _Mapper:
    return lambda p, n: [Requirement(f"dynamodb:{action}", _table(n, t), action) for t in p["RequestItems"]]


_TRANSACT_ACTIONS = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
    "Get": "GetItem",
}


def _dynamodb_transact(p: dict[str, Any], n: AwsNames) -> list[Requirement]:
    out: list[Requirement] = []
    for item in p["TransactItems"]:
        for kind, body in item.items():
            action = _TRANSACT_ACTIONS[kind]
            out.append(Requirement(f"dynamodb:{action}", _table(n, body["TableName"]), f"transaction {kind}"))
    return out


def _ses_template(action: str) -> _Mapper:
    return lambda p, n: [Requirement(f"ses:{action}", n.arn("ses", f"template/{p['TemplateName']}"), action)]


def _ses_send(action: str) -> _Mapper:
    def requirements(p: dict[str, Any], n: AwsNames) -> list[Requirement]:
        identity_arn = p.get("FromEmailAddressIdentityArn") or n.arn(
            "ses", f"identity/{n.ses_identity(p['FromEmailAddress'])}"
        )
        out = [Requirement(f"ses:{action}", identity_arn, "the identity that sends (From)")]
        if p.get("ConfigurationSetName"):
            out.append(
                Requirement(
                    f"ses:{action}", n.arn("ses", f"configuration-set/{p['ConfigurationSetName']}"), "configuration set"
                )
            )
        template = ((p.get("DefaultContent") or {}).get("Template") or (p.get("Content") or {}).get("Template")) or {}
        if template.get("TemplateArn"):
            out.append(Requirement(f"ses:{action}", template["TemplateArn"], "template"))
        elif template.get("TemplateName"):
            out.append(Requirement(f"ses:{action}", n.arn("ses", f"template/{template['TemplateName']}"), "template"))
        return out

    return requirements


def _no_resource(action: str, why: str) -> _Mapper:
    return lambda p, n: [Requirement(action, "*", why)]


def _secret(p: dict[str, Any], n: AwsNames) -> list[Requirement]:
    secret = p["SecretId"]
    arn = secret if secret.startswith("arn:") else n.arn("secretsmanager", f"secret:{secret}")
    out = [Requirement("secretsmanager:GetSecretValue", arn, "read the secret")]
    key = n.secret_keys.get(arn)
    if key:
        # Secrets Manager decrypts with the caller's permissions (a customer managed key).
        via = ("kms:ViaService", f"secretsmanager.{n.region}.amazonaws.com")
        out.append(Requirement("kms:Decrypt", key, "Secrets Manager decrypts the secret for the caller", (via,)))
    return out


def _states(action: str, param: str) -> _Mapper:
    return lambda p, n: [Requirement(f"states:{action}", p[param], action)]


def _lambda_invoke(p: dict[str, Any], n: AwsNames) -> list[Requirement]:
    name = p["FunctionName"]
    arn = name if name.startswith("arn:") else n.arn("lambda", f"function:{name}")
    return [Requirement("lambda:InvokeFunction", arn, "invoke")]


def _queue_arn(url: str) -> str:
    # https://sqs.<region>.amazonaws.com/<account>/<name>
    parsed = urlparse(url)
    account, name = parsed.path.strip("/").split("/")[-2:]
    region = parsed.netloc.split(".")[1]
    return f"arn:aws:sqs:{region}:{account}:{name}"


def _sqs(action: str) -> _Mapper:
    return lambda p, n: [Requirement(f"sqs:{action}", _queue_arn(p["QueueUrl"]), action)]


_MAPPERS: dict[tuple[str, str], _Mapper] = {
    ("s3", "GetObject"): _s3_read,
    ("s3", "HeadObject"): _s3_read,
    ("s3", "PutObject"): _s3("s3:PutObject", "write"),
    ("s3", "CreateMultipartUpload"): _s3("s3:PutObject", "multipart write"),
    ("s3", "UploadPart"): _s3("s3:PutObject", "multipart write"),
    ("s3", "CompleteMultipartUpload"): _s3("s3:PutObject", "multipart write"),
    ("s3", "AbortMultipartUpload"): _s3("s3:AbortMultipartUpload", "abort a multipart write"),
    ("s3", "ListParts"): _s3("s3:ListMultipartUploadParts", "list parts"),
    ("s3", "DeleteObject"): _s3("s3:DeleteObject", "delete"),
    ("s3", "ListObjectsV2"): _s3_bucket("s3:ListBucket", "list keys"),
    ("s3", "ListObjects"): _s3_bucket("s3:ListBucket", "list keys"),
    ("dynamodb", "GetItem"): _dynamodb("GetItem"),
    ("dynamodb", "PutItem"): _dynamodb("PutItem"),
    ("dynamodb", "UpdateItem"): _dynamodb("UpdateItem"),
    ("dynamodb", "DeleteItem"): _dynamodb("DeleteItem"),
    ("dynamodb", "Query"): _dynamodb("Query"),
    ("dynamodb", "Scan"): _dynamodb("Scan"),
    ("dynamodb", "DescribeTable"): _dynamodb("DescribeTable"),
    ("dynamodb", "BatchGetItem"): _dynamodb_batch("BatchGetItem"),
    ("dynamodb", "BatchWriteItem"): _dynamodb_batch("BatchWriteItem"),
    ("dynamodb", "TransactWriteItems"): _dynamodb_transact,
    ("dynamodb", "TransactGetItems"): _dynamodb_transact,
    ("sesv2", "GetAccount"): _no_resource("ses:GetAccount", "send quota (no resource type)"),
    ("sesv2", "GetEmailTemplate"): _ses_template("GetEmailTemplate"),
    ("sesv2", "CreateEmailTemplate"): _ses_template("CreateEmailTemplate"),
    ("sesv2", "UpdateEmailTemplate"): _ses_template("UpdateEmailTemplate"),
    ("sesv2", "DeleteEmailTemplate"): _ses_template("DeleteEmailTemplate"),
    ("sesv2", "TestRenderEmailTemplate"): _ses_template("TestRenderEmailTemplate"),
    ("sesv2", "SendBulkEmail"): _ses_send("SendBulkEmail"),
    ("sesv2", "SendEmail"): _ses_send("SendEmail"),
    ("sesv2", "PutSuppressedDestination"): _no_resource(
        "ses:PutSuppressedDestination", "account-level suppression list (no resource type)"
    ),
    ("sesv2", "GetSuppressedDestination"): _no_resource(
        "ses:GetSuppressedDestination", "account-level suppression list (no resource type)"
    ),
    ("secretsmanager", "GetSecretValue"): _secret,
    ("stepfunctions", "StartExecution"): _states("StartExecution", "stateMachineArn"),
    ("stepfunctions", "DescribeExecution"): _states("DescribeExecution", "executionArn"),
    ("stepfunctions", "StopExecution"): _states("StopExecution", "executionArn"),
    ("stepfunctions", "RedriveExecution"): _states("RedriveExecution", "executionArn"),
    ("stepfunctions", "ListExecutions"): _states("ListExecutions", "stateMachineArn"),
    ("lambda", "Invoke"): _lambda_invoke,
    ("sqs", "ReceiveMessage"): _sqs("ReceiveMessage"),
    # Batch APIs are authorised by the single-message action (SQS has no separate batch actions).
    ("sqs", "DeleteMessage"): _sqs("DeleteMessage"),
    ("sqs", "DeleteMessageBatch"): _sqs("DeleteMessage"),
    ("sqs", "GetQueueAttributes"): _sqs("GetQueueAttributes"),
    ("sqs", "SendMessage"): _sqs("SendMessage"),
    ("sqs", "SendMessageBatch"): _sqs("SendMessage"),
}

# Calls the local stack makes that AWS does not make with the principal's role, so they are
# not audited: the Lambda service itself invokes a function for its event source mapping, and
# on a failed batch the service lets the visibility timeout expire, where the local poller
# makes the messages visible again at once (campaign_local/pollers.py).
_NOT_THE_ROLES: set[tuple[Via, str, str]] = {
    (Via.EVENT_SOURCE, "lambda", "Invoke"),
    (Via.EVENT_SOURCE, "sqs", "ChangeMessageVisibility"),
    (Via.EVENT_SOURCE, "sqs", "ChangeMessageVisibilityBatch"),
}


def audited(call: ApiCall) -> bool:
    return (call.principal.via, call.service, call.operation) not in _NOT_THE_ROLES


def requirements(call: ApiCall, names: AwsNames) -> list[Requirement]:
    """The IAM authorisations AWS makes for the call, including those moto does not model."""
    mapper = _MAPPERS.get((call.service, call.operation))
    if mapper is None:
        raise UnmappedCall(
            f"{call}: no IAM mapping in campaign_local/iam_audit.py _MAPPERS; add the action and resource "
            "type from the Service Authorization Reference"
        )
    out = mapper(call.params, names)
    if call.service == "s3" and call.operation in ("GetObject", "HeadObject") and call.error in _S3_MISSING:
        # The code tells "not found" from other errors by the 404, which S3 only answers to a
        # caller allowed s3:ListBucket; without it the same read answers 403 AccessDenied.
        out.append(
            Requirement("s3:ListBucket", f"arn:aws:s3:::{call.params['Bucket']}", "a missing key answers 404, not 403")
        )
    return out


_S3_MISSING = {"NoSuchKey", "NoSuchVersion", "404", "NotFound"}


# ------------------------------------------------------------------------------- policies

# Vendored unchanged from aws/serverless-application-model
# samtranslator/policy_templates_data/policy_templates.json @ 013ec109893d6fbb6ea2e148f37f1f5eb34471a1:
# the templates template.yaml uses, plus S3ReadPolicy and SQSPollerPolicy for future use.
_TABLE_ARNS = [
    {
        "Fn::Sub": [
            "arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/${tableName}",
            {"tableName": {"Ref": "TableName"}},
        ]
    },
    {
        "Fn::Sub": [
            "arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/${tableName}/index/*",
            {"tableName": {"Ref": "TableName"}},
        ]
    },
]
SAM_POLICY_TEMPLATES: dict[str, dict[str, Any]] = {
    "DynamoDBCrudPolicy": {
        "Statement": [
            {
                "Effect": "Allow",
                "Action": [
                    "dynamodb:GetItem",
                    "dynamodb:DeleteItem",
                    "dynamodb:PutItem",
                    "dynamodb:Scan",
                    "dynamodb:Query",
                    "dynamodb:UpdateItem",
                    "dynamodb:BatchWriteItem",
                    "dynamodb:BatchGetItem",
                    "dynamodb:DescribeTable",
                    "dynamodb:ConditionCheckItem",
                ],
                "Resource": _TABLE_ARNS,
            }
        ]
    },
    "DynamoDBReadPolicy": {
        "Statement": [
            {
                "Effect": "Allow",
                "Action": [
                    "dynamodb:GetItem",
                    "dynamodb:Scan",
                    "dynamodb:Query",
                    "dynamodb:BatchGetItem",
                    "dynamodb:DescribeTable",
                ],
                "Resource": _TABLE_ARNS,
            }
        ]
    },
    "AWSSecretsManagerGetSecretValuePolicy": {
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["secretsmanager:GetSecretValue"],
                "Resource": {"Fn::Sub": ["${secretArn}", {"secretArn": {"Ref": "SecretArn"}}]},
            }
        ]
    },
    "StepFunctionsExecutionPolicy": {
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["states:StartExecution"],
                "Resource": {
                    "Fn::Sub": [
                        "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:stateMachine:${stateMachineName}",
                        {"stateMachineName": {"Ref": "StateMachineName"}},
                    ]
                },
            }
        ]
    },
    "LambdaInvokePolicy": {
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["lambda:InvokeFunction"],
                "Resource": {
                    "Fn::Sub": [
                        "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:${functionName}*",
                        {"functionName": {"Ref": "FunctionName"}},
                    ]
                },
            }
        ]
    },
    "S3ReadPolicy": {
        "Statement": [
            {
                "Effect": "Allow",
                "Action": [
                    "s3:GetObject",
                    "s3:ListBucket",
                    "s3:GetBucketLocation",
                    "s3:GetObjectVersion",
                    "s3:GetLifecycleConfiguration",
                ],
                "Resource": [
                    {"Fn::Sub": ["arn:${AWS::Partition}:s3:::${bucketName}", {"bucketName": {"Ref": "BucketName"}}]},
                    {"Fn::Sub": ["arn:${AWS::Partition}:s3:::${bucketName}/*", {"bucketName": {"Ref": "BucketName"}}]},
                ],
            }
        ]
    },
    "SQSPollerPolicy": {
        "Statement": [
            {
                "Effect": "Allow",
                "Action": [
                    "sqs:ChangeMessageVisibility",
                    "sqs:ChangeMessageVisibilityBatch",
                    "sqs:DeleteMessage",
                    "sqs:DeleteMessageBatch",
                    "sqs:GetQueueAttributes",
                    "sqs:ReceiveMessage",
                ],
                "Resource": {
                    "Fn::Sub": [
                        "arn:${AWS::Partition}:sqs:${AWS::Region}:${AWS::AccountId}:${queueName}",
                        {"queueName": {"Ref": "QueueName"}},
                    ]
                },
            }
        ]
    },
}

# AWS managed policies SAM attaches on its own (AWS Managed Policy reference, version 1 of each):
# AWSLambdaBasicExecutionRole to every function, AWSLambdaSQSQueueExecutionRole to a function
# with an SQS event, AWSXrayWriteOnlyAccess with Tracing: Active (its X-Ray actions are not API
# calls the audit sees, so it is left out).
MANAGED_POLICIES: dict[str, dict[str, Any]] = {
    "AWSLambdaBasicExecutionRole": {
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": "*",
            }
        ]
    },
    "AWSLambdaSQSQueueExecutionRole": {
        "Statement": [
            {
                "Effect": "Allow",
                "Action": [
                    "sqs:ReceiveMessage",
                    "sqs:DeleteMessage",
                    "sqs:GetQueueAttributes",
                    "logs:CreateLogGroup",
                    "logs:CreateLogStream",
                    "logs:PutLogEvents",
                ],
                "Resource": "*",
            }
        ]
    },
}


class Effect(StrEnum):
    ALLOW = "Allow"
    DENY = "Deny"


@dataclass(frozen=True)
class Statement:
    source: str  # where it comes from: "template.yaml PrepareFunction Policies[0] Sid ReadCampaignInputs"
    effect: Effect
    actions: tuple[str, ...] = ()
    not_actions: tuple[str, ...] = ()
    resources: tuple[str, ...] = ()
    not_resources: tuple[str, ...] = ()
    condition: dict[str, dict[str, tuple[str, ...]]] = field(default_factory=dict, hash=False)

    def matches_action(self, action: str) -> bool:
        if self.not_actions:
            return not any(action_matches(p, action) for p in self.not_actions)
        return any(action_matches(p, action) for p in self.actions)

    def matching_resource(self, resource: str) -> str | None:
        """The Resource pattern that matches, "" for a NotResource match, None when none does."""
        if self.not_resources:
            return None if any(_resource_match(p, resource) for p in self.not_resources) else ""
        return next((p for p in self.resources if _resource_match(p, resource)), None)

    def condition_holds(self, context: dict[str, str]) -> bool:
        return all(
            _condition(op, key, values, context) for op, keys in self.condition.items() for key, values in keys.items()
        )


@cache
def _pattern(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    # * and ? as in IAM; IAM has no [ ] classes, so they stay literal.
    regex = fnmatch.translate(pattern.replace("[", "\x00").replace("]", "\x01"))
    regex = regex.replace("\x00", r"\[").replace("\x01", r"\]")
    return re.compile(regex, re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL)


def action_matches(pattern: str, action: str) -> bool:
    return bool(_pattern(pattern, True).match(action))  # action names are case-insensitive


def _resource_match(pattern: str, resource: str) -> bool:
    return pattern == "*" or bool(_pattern(pattern, False).match(resource))  # ARNs are case-sensitive


def _condition(operator: str, key: str, values: tuple[str, ...], context: dict[str, str]) -> bool:
    """The operators template.yaml uses; an unknown one never holds (an Allow then does not apply)."""
    if_exists = operator.endswith("IfExists")
    op = operator.removesuffix("IfExists")
    actual = next((v for k, v in context.items() if k.lower() == key.lower()), None)
    if actual is None:
        return if_exists or op.startswith(("StringNot", "ArnNot"))
    if op in ("StringEquals", "ArnEquals"):
        return actual in values
    if op == "StringEqualsIgnoreCase":
        return actual.lower() in {v.lower() for v in values}
    if op in ("StringLike", "ArnLike"):
        return any(_resource_match(v, actual) for v in values)
    if op in ("StringNotEquals", "ArnNotEquals"):
        return actual not in values
    if op in ("StringNotLike", "ArnNotLike"):
        return not any(_resource_match(v, actual) for v in values)
    if op == "Bool":
        return actual.lower() in {v.lower() for v in values}
    return False


def _strings(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    return tuple(str(v) for v in (value if isinstance(value, list) else [value]) if v is not None)


def _statement(source: str, raw: dict[str, Any]) -> Statement:
    condition = {
        op: {key: _strings(values) for key, values in (keys or {}).items()}
        for op, keys in (raw.get("Condition") or {}).items()
    }
    return Statement(
        source=source + (f" Sid {raw['Sid']}" if raw.get("Sid") else ""),
        effect=Effect(raw["Effect"]),
        actions=_strings(raw.get("Action")),
        not_actions=_strings(raw.get("NotAction")),
        resources=_strings(raw.get("Resource")),
        not_resources=_strings(raw.get("NotResource")),
        condition=condition,
    )


class Decision(StrEnum):
    ALLOWED = "allowed"
    IMPLICIT_DENY = "no statement allows it"
    EXPLICIT_DENY = "denied by a Deny statement"


@dataclass(frozen=True)
class Verdict:
    requirement: Requirement
    decision: Decision
    statement: Statement | None = None  # the Deny that denied, or the first Allow that allowed
    pattern: str | None = None  # the Resource pattern of that statement that matched
    wildcard_only: bool = False  # every Allow that applies does so through Resource "*"


@dataclass
class RolePolicies:
    """The statements of one role: a function's or the state machine's Policies in template.yaml."""

    logical_id: str
    statements: list[Statement]

    @classmethod
    def from_template(cls, template: dict[str, Any], logical_id: str, resolver: cfn.Resolver) -> RolePolicies:
        resource = template["Resources"][logical_id]
        props = resource.get("Properties", {})
        where = f"template.yaml {logical_id}"
        statements: list[Statement] = []
        for index, policy in enumerate(props.get("Policies") or []):
            source = f"{where} Policies[{index}]"
            if isinstance(policy, str):
                document = MANAGED_POLICIES.get(policy)
                if document is None:
                    raise ValueError(
                        f"{source}: managed policy {policy} is not vendored in campaign_local/iam_audit.py"
                    )
                statements += [_statement(f"{source} {policy}", s) for s in document["Statement"]]
            elif "Statement" in policy:
                for number, raw in enumerate(resolver.resolve(policy["Statement"])):
                    if raw is not None:  # an !If that chose AWS::NoValue
                        statements.append(_statement(f"{source} Statement[{number}]", raw))
            else:
                ((name, parameters),) = policy.items()
                statements += _expand_sam_template(f"{source} {name}", name, parameters, resolver)
        if resource["Type"] == "AWS::Serverless::Function":
            implicit = ["AWSLambdaBasicExecutionRole"]
            if any(e.get("Type") == "SQS" for e in (props.get("Events") or {}).values()):
                implicit.append("AWSLambdaSQSQueueExecutionRole")
            for name in implicit:
                statements += [
                    _statement(f"{where} (SAM attaches {name})", s) for s in MANAGED_POLICIES[name]["Statement"]
                ]
        return cls(logical_id, statements)

    def evaluate(self, requirement: Requirement) -> Verdict:
        context = dict(requirement.context)
        applying = [
            (s, pattern)
            for s in self.statements
            if s.matches_action(requirement.action)
            and (pattern := s.matching_resource(requirement.resource)) is not None
            and s.condition_holds(context)
        ]
        deny = next(((s, p) for s, p in applying if s.effect is Effect.DENY), None)
        if deny:
            return Verdict(requirement, Decision.EXPLICIT_DENY, deny[0], deny[1])
        allows = [(s, p) for s, p in applying if s.effect is Effect.ALLOW]
        if not allows:
            return Verdict(requirement, Decision.IMPLICIT_DENY)
        specific = [(s, p) for s, p in allows if p != "*"]
        statement, pattern = (specific or allows)[0]
        return Verdict(requirement, Decision.ALLOWED, statement, pattern, wildcard_only=not specific)


def _expand_sam_template(source: str, name: str, parameters: Any, resolver: cfn.Resolver) -> list[Statement]:
    document = SAM_POLICY_TEMPLATES.get(name)
    if document is None:
        raise ValueError(f"{source}: SAM policy template {name} is not vendored in campaign_local/iam_audit.py")
    values = {k: str(resolver.resolve(v)) for k, v in (parameters or {}).items()}
    local = cfn.Resolver(
        {"Parameters": {k: {} for k in values}}, resolver.region, resolver.account, resolver.stack_name, values
    )
    return [_statement(source, raw) for raw in local.resolve(document["Statement"])]
