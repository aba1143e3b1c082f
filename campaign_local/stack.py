"""The local AWS stack: the resources template.yaml declares, on moto, with the real handlers.

    with LocalStack.start() as stack:
        stack.put_campaign("recipe", definition); stack.put_template("welcome-campaign", content)
        stack.upload("incoming/recipe/subscribers.json", data)   # the S3 notification starts the run
        run = stack.wait_for_run("recipe")

What moto cannot do is added here: Lambda code runs in-process (``lambdas``), SES v2 gets the
operations the pipeline calls (``ses``), and the state machine file is executed with moto's
interpreter. Names, environment variables and substitutions are read from template.yaml.
"""

from __future__ import annotations

import json
import os
import re
import secrets as _secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID

from . import cfn, lambdas, moto_patches
from . import ses as local_ses
from .function_urls import FunctionUrlServer
from .pollers import EventSourceMapping, Pollers

ROOT = Path(__file__).resolve().parent.parent
REGION = "us-east-1"
STACK_NAME = "campaign-local"
# The template's parameters, overridden for the local stack: moto runs Distributed Map
# children only as STANDARD executions, and INFO logs of every batch would drown the demo.
LOCAL_PARAMETERS = {"ChildExecutionType": "STANDARD", "LogLevel": "WARNING"}
DUMMY_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
}
# Outside Lambda there is no X-Ray daemon; metrics would print EMF blobs for every batch.
LOCAL_ENVIRONMENT = {"POWERTOOLS_TRACE_DISABLED": "true", "POWERTOOLS_METRICS_DISABLED": "true"}


def _physical_name(logical: str) -> str:
    return f"{STACK_NAME}-{logical}"


@dataclass
class LocalStack:
    template_path: Path
    parameters: dict[str, str]
    resolver: cfn.Resolver = field(init=False)
    environment: dict[str, str] = field(default_factory=dict)
    outputs: dict[str, str] = field(default_factory=dict)
    function_urls: dict[str, FunctionUrlServer] = field(default_factory=dict)
    pollers: Pollers = field(default_factory=lambda: Pollers(REGION))
    _clients: dict[str, Any] = field(default_factory=dict, repr=False)

    # -- life cycle ------------------------------------------------------------------------

    @classmethod
    @contextmanager
    def start(
        cls,
        template: Path | None = None,
        parameters: dict[str, str] | None = None,
        environment: dict[str, str] | None = None,
    ) -> Iterator[LocalStack]:
        saved = dict(os.environ)
        os.environ.update(DUMMY_CREDENTIALS)
        os.environ.update(LOCAL_ENVIRONMENT)
        os.environ.update(environment or {})
        mock = mock_aws(config={"stepfunctions": {"execute_state_machine": True}})
        mock.start()
        stack: LocalStack | None = None
        try:
            lambdas.install()
            moto_patches.install()
            local_ses.install()
            local_ses.reset()
            stack = cls(template or ROOT / "template.yaml", {**LOCAL_PARAMETERS, **(parameters or {})})
            stack._build()
            # Imported only now, with the template's environment set, as in Lambda (Powertools
            # reads its service name at import); its cached clients and settings are dropped.
            from campaign_engine.adapters import aws as engine_aws
            from campaign_engine.adapters import secrets as engine_secrets
            from campaign_engine.config import settings

            engine_aws.reset()
            engine_secrets.reset()
            settings.cache_clear()
            yield stack
        finally:
            if stack is not None:
                stack._shut_down()
            lambdas.REGISTRY.functions.clear()
            lambdas.REGISTRY.invocations.clear()
            lambdas.REGISTRY.hooks.clear()
            mock.stop()
            moto_patches.uninstall()
            os.environ.clear()
            os.environ.update(saved)

    def client(self, service: str) -> Any:
        found = self._clients.get(service)
        if found is None:
            found = self._clients[service] = boto3.client(service, region_name=REGION)
        return found

    # -- building from template.yaml -------------------------------------------------------

    def _build(self) -> None:
        template = cfn.load(self.template_path)
        self.resolver = cfn.Resolver(template, REGION, DEFAULT_ACCOUNT_ID, STACK_NAME, dict(self.parameters))
        resources = template["Resources"]
        self._assign_names(resources)
        for logical, resource in resources.items():
            if resource["Type"] == "AWS::SecretsManager::Secret":
                self._create_secret(logical, resource.get("Properties", {}))
        # In dependency order: queues before their redrive policies and subscriptions, topics
        # and configuration sets before event destinations.
        created = {
            "AWS::DynamoDB::Table": self._create_table,
            "AWS::S3::Bucket": self._create_bucket,
            "AWS::SNS::Topic": self._create_topic,
            "AWS::SQS::Queue": self._create_queue,
            "AWS::SES::ConfigurationSet": self._create_configuration_set,
        }
        for kind, create in created.items():
            for logical, resource in resources.items():
                if resource["Type"] == kind:
                    create(logical, resource.get("Properties", {}))
        wired = {
            "AWS::SQS::Queue": self._set_redrive_policy,
            "AWS::SNS::Subscription": self._subscribe,
            "AWS::SES::ConfigurationSetEventDestination": self._create_event_destination,
        }
        for kind, wire in wired.items():
            for logical, resource in resources.items():
                if resource["Type"] == kind:
                    wire(logical, resource.get("Properties", {}))
        globals_fn = template.get("Globals", {}).get("Function", {})
        global_env = self.resolver.resolve(globals_fn.get("Environment", {}).get("Variables", {}))
        self.environment.update({k: str(v) for k, v in global_env.items()})
        functions = {k: r for k, r in resources.items() if r["Type"] == "AWS::Serverless::Function"}
        for logical, resource in functions.items():
            self._create_function(logical, resource.get("Properties", {}), globals_fn)
        os.environ.update(self.environment)
        for logical, resource in resources.items():
            if resource["Type"] == "AWS::Serverless::StateMachine":
                self._create_state_machine(logical, resource.get("Properties", {}))
        for logical, resource in resources.items():
            if resource["Type"] == "AWS::S3::Bucket":
                self._wire_notifications(logical, resource.get("Properties", {}))
        for logical, resource in functions.items():
            self._wire_function_events(logical, resource.get("Properties", {}))
        self.outputs = {
            name: str(self.resolver.resolve(spec["Value"]))
            for name, spec in template.get("Outputs", {}).items()
            if "Condition" not in spec
        }

    def _assign_names(self, resources: dict[str, Any]) -> None:
        """Physical names and ARNs for every resource first, so intrinsics can refer forward."""
        r = self.resolver
        arn = f"arn:aws:{{}}:{REGION}:{DEFAULT_ACCOUNT_ID}:{{}}"
        for logical, resource in resources.items():
            kind, props = resource["Type"], resource.get("Properties", {})
            name = _physical_name(logical)
            if kind == "AWS::S3::Bucket":
                name = r.resolve(props.get("BucketName", name.lower()))
                r.attributes[(logical, "Arn")] = f"arn:aws:s3:::{name}"
            elif kind == "AWS::DynamoDB::Table":
                name = r.resolve(props.get("TableName", name))
                r.attributes[(logical, "Arn")] = arn.format("dynamodb", f"table/{name}")
            elif kind == "AWS::Serverless::Function":
                r.attributes[(logical, "Arn")] = arn.format("lambda", f"function:{name}")
                if props.get("FunctionUrlConfig"):
                    # SAM's generated <Function>Url resource; its URL goes into environments.
                    server = self.function_urls[logical] = FunctionUrlServer(REGION)
                    r.attributes[(f"{logical}Url", "FunctionUrl")] = server.url
            elif kind == "AWS::Serverless::StateMachine":
                sm_name = r.resolve(props.get("Name", name))
                r.attributes[(logical, "Name")] = sm_name
                name = arn.format("states", f"stateMachine:{sm_name}")
                r.attributes[(logical, "Arn")] = name
            elif kind == "AWS::SNS::Topic":
                name = arn.format("sns", r.resolve(props.get("TopicName", name)))
                r.attributes[(logical, "TopicArn")] = name
            elif kind == "AWS::SQS::Queue":
                r.attributes[(logical, "Arn")] = arn.format("sqs", name)
                name = f"https://sqs.{REGION}.amazonaws.com/{DEFAULT_ACCOUNT_ID}/{name}"
            elif kind == "AWS::SES::ConfigurationSet":
                name = r.resolve(props.get("Name", name))
            elif kind == "AWS::Logs::LogGroup":
                name = r.resolve(props.get("LogGroupName", name))
                r.attributes[(logical, "Arn")] = arn.format("logs", f"log-group:{name}:*")
            else:
                r.attributes[(logical, "Arn")] = arn.format("local", name)
            r.physical[logical] = name

    def _create_secret(self, logical: str, props: dict[str, Any]) -> None:
        generate = props.get("GenerateSecretString", {})
        value = _secrets.token_urlsafe(int(generate.get("PasswordLength", 64)))
        name = self.resolver.resolve(props.get("Name", _physical_name(logical)))
        arn = self.client("secretsmanager").create_secret(Name=name, SecretString=value)["ARN"]
        self.resolver.physical[logical] = arn

    def _create_table(self, logical: str, props: dict[str, Any]) -> None:
        props = self.resolver.resolve(props)
        dynamodb = self.client("dynamodb")
        dynamodb.create_table(
            TableName=self.resolver.physical[logical],
            KeySchema=props["KeySchema"],
            AttributeDefinitions=props["AttributeDefinitions"],
            BillingMode=props.get("BillingMode", "PAY_PER_REQUEST"),
        )
        ttl = props.get("TimeToLiveSpecification")
        if ttl and str(ttl.get("Enabled")).lower() == "true":
            dynamodb.update_time_to_live(
                TableName=self.resolver.physical[logical],
                TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["AttributeName"]},
            )

    def _create_bucket(self, logical: str, props: dict[str, Any]) -> None:
        s3 = self.client("s3")
        bucket = self.resolver.physical[logical]
        s3.create_bucket(Bucket=bucket)
        if props.get("VersioningConfiguration"):
            s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})

    def _create_topic(self, logical: str, props: dict[str, Any]) -> None:
        arn = self.resolver.physical[logical]
        self.client("sns").create_topic(Name=arn.rsplit(":", 1)[-1])

    def _create_queue(self, logical: str, props: dict[str, Any]) -> None:
        props = self.resolver.resolve(props)
        names = {
            "VisibilityTimeout": "VisibilityTimeout",
            "MessageRetentionPeriod": "MessageRetentionPeriod",
            "DelaySeconds": "DelaySeconds",
            "ReceiveMessageWaitTimeSeconds": "ReceiveMessageWaitTimeSeconds",
        }
        attributes = {attr: str(props[prop]) for prop, attr in names.items() if prop in props}
        url = self.resolver.physical[logical]
        self.client("sqs").create_queue(QueueName=url.rsplit("/", 1)[-1], Attributes=attributes)

    def _set_redrive_policy(self, logical: str, props: dict[str, Any]) -> None:
        policy = self.resolver.resolve(props.get("RedrivePolicy"))
        if policy:
            self.client("sqs").set_queue_attributes(
                QueueUrl=self.resolver.physical[logical], Attributes={"RedrivePolicy": json.dumps(policy)}
            )

    def _subscribe(self, logical: str, props: dict[str, Any]) -> None:
        props = self.resolver.resolve(props)
        attributes: dict[str, str] = {}
        if "FilterPolicy" in props:
            policy = props["FilterPolicy"]
            attributes["FilterPolicy"] = policy if isinstance(policy, str) else json.dumps(policy)
            attributes["FilterPolicyScope"] = props.get("FilterPolicyScope", "MessageAttributes")
        if "RawMessageDelivery" in props:
            attributes["RawMessageDelivery"] = str(props["RawMessageDelivery"]).lower()
        arn = self.client("sns").subscribe(
            TopicArn=props["TopicArn"],
            Protocol=props["Protocol"],
            Endpoint=props["Endpoint"],
            Attributes=attributes,
            ReturnSubscriptionArn=True,
        )["SubscriptionArn"]
        self.resolver.physical[logical] = arn

    def _create_event_destination(self, logical: str, props: dict[str, Any]) -> None:
        """SNS destinations only: the local SES publishes events to them; CloudWatch metrics
        have no local consumer."""
        props = self.resolver.resolve(props)
        destination = props["EventDestination"]
        sns = destination.get("SnsDestination")
        if not sns:
            return
        self.client("sesv2").create_configuration_set_event_destination(
            ConfigurationSetName=props["ConfigurationSetName"],
            EventDestinationName=destination["Name"],
            EventDestination={
                "Enabled": str(destination.get("Enabled", True)).lower() == "true",
                # CloudFormation spells the types renderingFailure, the API RENDERING_FAILURE.
                "MatchingEventTypes": [
                    re.sub(r"(?<!^)([A-Z])", r"_\1", t).upper() for t in destination["MatchingEventTypes"]
                ],
                "SnsDestination": {"TopicArn": sns["TopicARN"]},
            },
        )

    def _wire_function_events(self, logical: str, props: dict[str, Any]) -> None:
        name = self.resolver.physical[logical]
        if logical in self.function_urls:
            self.function_urls[logical].start(name)
        for event in (props.get("Events") or {}).values():
            if event.get("Type") != "SQS":
                continue
            spec = self.resolver.resolve(event["Properties"])
            queue_arn = spec["Queue"]
            queue_url = next(
                url
                for (lid, attr), arn in self.resolver.attributes.items()
                if attr == "Arn" and arn == queue_arn
                for url in [self.resolver.physical[lid]]
            )
            self.pollers.add(
                EventSourceMapping(
                    function_name=name,
                    queue_url=queue_url,
                    queue_arn=queue_arn,
                    batch_size=int(spec.get("BatchSize", 10)),
                    report_batch_item_failures="ReportBatchItemFailures" in (spec.get("FunctionResponseTypes") or []),
                    batching_window=float(spec.get("MaximumBatchingWindowInSeconds", 0)),
                )
            )

    def _shut_down(self) -> None:
        self.pollers.stop()
        for server in self.function_urls.values():
            server.stop()
        local_ses.reset()

    def _create_configuration_set(self, logical: str, props: dict[str, Any]) -> None:
        self.client("sesv2").create_configuration_set(ConfigurationSetName=self.resolver.physical[logical])

    def _create_function(self, logical: str, props: dict[str, Any], globals_fn: dict[str, Any]) -> None:
        name = self.resolver.physical[logical]
        env = self.resolver.resolve(props.get("Environment", {}).get("Variables", {}))
        for key, value in env.items():
            if key in self.environment and self.environment[key] != str(value):
                raise ValueError(
                    f"{logical} sets {key} differently from another function: the local stack runs "
                    "every function in one process, so environment variables must agree"
                )
            self.environment[key] = str(value)
        handler = props.get("Handler", globals_fn.get("Handler", "app.handler"))
        code = lambdas.FunctionCode(
            logical_id=logical,
            code_dir=ROOT / props["CodeUri"],
            handler=handler,
            memory_mb=int(self.resolver.resolve(props.get("MemorySize", globals_fn.get("MemorySize", 128)))),
            timeout_s=int(self.resolver.resolve(props.get("Timeout", globals_fn.get("Timeout", 3)))),
        )
        lambdas.REGISTRY.functions[name] = code
        role = self._role()
        self.client("lambda").create_function(
            FunctionName=name,
            Runtime="python3.13",
            Role=role,
            Handler=handler,
            Code={"ZipFile": b"in-process"},
            Timeout=code.timeout_s,
            MemorySize=code.memory_mb,
        )

    def _role(self) -> str:
        iam = self.client("iam")
        try:
            return iam.get_role(RoleName="campaign-local-role")["Role"]["Arn"]
        except iam.exceptions.NoSuchEntityException:
            document = {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": ["lambda.amazonaws.com", "states.amazonaws.com"]},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
            return iam.create_role(RoleName="campaign-local-role", AssumeRolePolicyDocument=json.dumps(document))[
                "Role"
            ]["Arn"]

    def _create_state_machine(self, logical: str, props: dict[str, Any]) -> None:
        definition = (ROOT / props["DefinitionUri"]).read_text(encoding="utf-8")
        substitutions = self.resolver.resolve(props.get("DefinitionSubstitutions", {}))
        for key, value in substitutions.items():
            definition = definition.replace("${" + key + "}", str(value))
        self.client("stepfunctions").create_state_machine(
            name=self.resolver.attributes[(logical, "Name")],
            definition=definition,
            roleArn=self._role(),
            type=props.get("Type", "STANDARD"),
        )

    def _wire_notifications(self, logical: str, props: dict[str, Any]) -> None:
        config = self.resolver.resolve(props.get("NotificationConfiguration", {}))
        lambda_configs = [
            {
                "LambdaFunctionArn": c["Function"],
                "Events": [c["Event"]],
                **(
                    {
                        "Filter": {
                            "Key": {
                                "FilterRules": [
                                    {"Name": rule["Name"], "Value": rule["Value"]}
                                    for rule in c["Filter"]["S3Key"]["Rules"]
                                ]
                            }
                        }
                    }
                    if c.get("Filter")
                    else {}
                ),
            }
            for c in config.get("LambdaConfigurations", [])
        ]
        if lambda_configs:
            self.client("s3").put_bucket_notification_configuration(
                Bucket=self.resolver.physical[logical],
                NotificationConfiguration={"LambdaFunctionConfigurations": lambda_configs},
            )

    # -- conveniences for tests and the demo ----------------------------------------------------

    @property
    def bucket(self) -> str:
        return self.environment["BUCKET_NAME"]

    @property
    def state_machine_arn(self) -> str:
        return self.environment["STATE_MACHINE_ARN"]

    def verify_sender(self, identity: str) -> None:
        self.client("sesv2").create_email_identity(EmailIdentity=identity)

    def configure_ses(self, **options: Any) -> None:
        local_ses.configure(DEFAULT_ACCOUNT_ID, REGION, **options)

    def put_json(self, key: str, document: Any) -> None:
        self.client("s3").put_object(Bucket=self.bucket, Key=key, Body=json.dumps(document).encode("utf-8"))

    def upload(self, key: str, data: bytes) -> None:
        """Put an object; for incoming/ keys the bucket notification starts the run."""
        self.client("s3").put_object(Bucket=self.bucket, Key=key, Body=data)

    def get_json(self, key: str) -> Any:
        return json.loads(self.client("s3").get_object(Bucket=self.bucket, Key=key)["Body"].read())

    def get_lines(self, key: str) -> list[dict[str, Any]]:
        body = self.client("s3").get_object(Bucket=self.bucket, Key=key)["Body"].read().decode("utf-8")
        return [json.loads(line) for line in body.splitlines() if line.strip()]

    def executions(self) -> list[dict[str, Any]]:
        sfn = self.client("stepfunctions")
        return sfn.list_executions(stateMachineArn=self.state_machine_arn)["executions"]

    def wait_for_execution(self, execution_arn: str, timeout: float = 120.0) -> dict[str, Any]:
        sfn = self.client("stepfunctions")
        deadline = time.monotonic() + timeout
        while True:
            described = sfn.describe_execution(executionArn=execution_arn)
            if described["status"] != "RUNNING":
                return described
            if time.monotonic() > deadline:
                raise TimeoutError(f"execution still running after {timeout:.0f} s: {execution_arn}")
            time.sleep(0.05)

    def wait_for_all(self, timeout: float = 120.0) -> list[dict[str, Any]]:
        return [self.wait_for_execution(e["executionArn"], timeout) for e in self.executions()]

    def report(self, campaign_id: str, run_id: str) -> dict[str, Any]:
        return self.get_json(f"runs/{campaign_id}/{run_id}/report.json")

    def publish_ses_records(self, messages: list[str]) -> None:
        """Publish SES records (JSON text) to the SES events topic, as SES would (10 a call)."""
        topic, sns = self.outputs["SesEventsTopicArn"], self.client("sns")
        for start in range(0, len(messages), 10):
            entries = [{"Id": str(i), "Message": text} for i, text in enumerate(messages[start : start + 10])]
            sns.publish_batch(TopicArn=topic, PublishBatchRequestEntries=entries)

    def drain_feedback(self, timeout: float = 120.0) -> None:
        """Wait until every SES event so far is published and every feedback function is done."""
        local_ses.flush_events(DEFAULT_ACCOUNT_ID, REGION, timeout=timeout)
        self.pollers.drain(timeout)

    @property
    def unsubscribe_url(self) -> str:
        return self.outputs["UnsubscribeUrl"]

    def published_events(self) -> list[dict[str, Any]]:
        """SES records the local SES published to event destinations, in publish order."""
        return local_ses.published_events(DEFAULT_ACCOUNT_ID, REGION)

    def sent_messages(self) -> list[dict[str, Any]]:
        return local_ses.sent_messages(DEFAULT_ACCOUNT_ID, REGION)
