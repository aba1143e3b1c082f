"""Which stack the command talks to: a deployed one (by its CloudFormation outputs) or the
local endpoint that ``make local-up`` runs (the same outputs, served by moto).

Either way the resources are found the same way, ``DescribeStacks``, and the layer's own
adapters then run against them: their settings come from the stack's outputs, and their
clients from one boto3 session (profile, region; for the local endpoint its address and dummy
credentials) handed to ``adapters.aws.use_session``. The process environment is not touched.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError, NoCredentialsError

from .errors import AWS, NOT_FOUND, CliError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
LOCAL_STATE = PROJECT_ROOT / "build" / "local" / "endpoint.json"
LOCAL_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
# Stack output -> the environment variable the layer's Settings read.
SETTINGS_FROM_OUTPUTS = {
    "CampaignBucketName": "BUCKET_NAME",
    "RunsTableName": "RUNS_TABLE",
    "LedgerTableName": "LEDGER_TABLE",
    "SuppressionTableName": "SUPPRESSION_TABLE",
    "EngagementTableName": "ENGAGEMENT_TABLE",
    "CampaignStateMachineArn": "STATE_MACHINE_ARN",
    "ConfigurationSetName": "CONFIGURATION_SET",
}


@dataclass
class Target:
    stack_name: str
    region: str | None
    outputs: dict[str, str]
    endpoint_url: str | None = None

    @property
    def local(self) -> bool:
        return self.endpoint_url is not None

    @property
    def bucket(self) -> str:
        return self.outputs["CampaignBucketName"]

    def output(self, name: str) -> str:
        try:
            return self.outputs[name]
        except KeyError:
            raise CliError(f"stack {self.stack_name} has no output {name}: is it this project's stack?") from None

    def settings(self) -> Any:
        from campaign_engine.config import Settings

        return Settings.model_validate(
            {env: self.outputs[name] for name, env in SETTINGS_FROM_OUTPUTS.items() if name in self.outputs}
        )

    def invoke(self, function_output: str, event: dict[str, Any], *, what: str) -> Any:
        """Invoke one of the stack's functions (named by its output) and return its answer;
        a function error becomes a CliError with the function's own message."""
        response = self.client("lambda").invoke(
            FunctionName=self.output(function_output), Payload=json.dumps(event).encode("utf-8")
        )
        payload = json.loads(response["Payload"].read() or b"null")
        if response.get("FunctionError"):
            message = payload.get("errorMessage") if isinstance(payload, dict) else payload
            raise CliError(f"{what} refused: {message}")
        return payload

    def client(self, service: str) -> Any:
        from campaign_engine.adapters.aws import client

        return client(service)


def session_for(*, endpoint_url: str | None, region: str | None, profile: str | None) -> Any:
    """The boto3 session every client of this command is made from."""
    if endpoint_url is not None:
        return boto3.session.Session(
            aws_access_key_id=LOCAL_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            region_name=region or "us-east-1",
        )
    return boto3.session.Session(profile_name=profile, region_name=region)


def quiet_layer() -> None:
    """The layer logs JSON for CloudWatch and traces for X-Ray: neither belongs in an operator's
    terminal. Called before anything imports ``campaign_engine.observability``."""
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
    os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "campaign-cli")
    os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")


def default_stack_name(config: Path = PROJECT_ROOT / "samconfig.toml", environment: str = "default") -> str | None:
    try:
        document = tomllib.loads(config.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        return None
    return document.get(environment, {}).get("global", {}).get("parameters", {}).get("stack_name")


def local_state(path: Path | None = None) -> dict[str, Any]:
    path = path or Path(os.environ.get("CAMPAIGN_LOCAL_STATE", LOCAL_STATE))
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CliError(
            f"no local stack is running ({path} does not exist): start one with `make local-up`", AWS
        ) from None
    except ValueError as exc:
        raise CliError(f"{path}: not a local endpoint file ({exc})", AWS) from None
    return state


def connect(*, local: bool, stack_name: str | None, region: str | None, profile: str | None) -> Target:
    """Aim the layer's clients at the target and read the stack's outputs."""
    endpoint_url = None
    if local:
        state = local_state()
        endpoint_url = state["endpoint_url"]
        stack_name = stack_name or state["stack_name"]
        region = state.get("region", "us-east-1")
    else:
        stack_name = stack_name or default_stack_name()
        if not stack_name:
            raise CliError("no stack name: pass --stack-name or set stack_name in samconfig.toml", NOT_FOUND)
    from botocore.exceptions import ProfileNotFound
    from campaign_engine.adapters import aws

    try:
        session = session_for(endpoint_url=endpoint_url, region=region, profile=profile)
    except ProfileNotFound as exc:
        raise CliError(str(exc), AWS) from None
    aws.use_session(session, endpoint_url)
    try:
        stacks = aws.client("cloudformation").describe_stacks(StackName=stack_name)["Stacks"]
    except ClientError as exc:
        if "does not exist" in str(exc):
            where = f"the local endpoint {endpoint_url}" if local else f"region {session.region_name}"
            raise CliError(f"stack {stack_name} does not exist in {where}", NOT_FOUND) from None
        raise
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}
    return Target(stack_name=stack_name, region=session.region_name, outputs=outputs, endpoint_url=endpoint_url)


def aws_error(exc: Exception) -> CliError:
    """One line for the operator from a botocore failure."""
    if isinstance(exc, EndpointConnectionError):
        return CliError(
            f"cannot reach {exc.kwargs.get('endpoint_url')}: is the stack (or `make local-up`) running?", AWS
        )
    if isinstance(exc, NoCredentialsError):
        return CliError("no AWS credentials: set AWS_PROFILE (or --profile), or use --local", AWS)
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = (
            NOT_FOUND if error.get("Code") in ("NoSuchKey", "ResourceNotFoundException", "NotFoundException") else AWS
        )
        return CliError(f"{exc.operation_name}: {error.get('Code')}: {error.get('Message')}", code)
    if isinstance(exc, BotoCoreError):
        return CliError(str(exc), AWS)
    return CliError(str(exc), AWS)


def target_options(args: Any) -> list[str]:
    """The target part of a command line as this one was run (``--local``, or ``--stack-name X
    --region R --profile P`` as given), so a hint printed for the operator runs against the same
    stack when pasted. Nothing for options left to their defaults (samconfig.toml's stack name,
    the profile's region): those resolve the same way again."""
    if getattr(args, "local", False):
        return ["--local"]
    words = []
    for option, name in (("--stack-name", "stack_name"), ("--region", "region"), ("--profile", "profile")):
        value = getattr(args, name, None)
        if value:
            words += [option, value]
    return words


def command_hint(args: Any, *words: str) -> str:
    """A command line to run next, in backquotes: ``campaign <target options> <words>``."""
    return "`" + shlex.join(["campaign", *target_options(args), *words]) + "`"


_LAYER_HINT = re.compile(r"`campaign ([a-z])")


def with_target(message: str, args: Any) -> str:
    """A message from the layer (which knows nothing of command lines) with its ``campaign ...``
    hints given the target options of this command line."""
    options = target_options(args)
    if not options:
        return message
    prefix = shlex.join(options)
    return _LAYER_HINT.sub(lambda match: f"`campaign {prefix} {match[1]}", message)
