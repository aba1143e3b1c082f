"""Run the real handlers in this process against the stubbed AWS of ``bench.stubs``.

The environment mirrors template.yaml's Globals with bench names; it must be in place before
``campaign_engine`` is imported (Powertools reads its settings at import, as in Lambda), so
call :func:`prepare_environment` first. Events and results go through ``json`` as the Lambda
runtime and Step Functions pass them.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import sys
import uuid
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

from .stubs import StubAws

ROOT = Path(__file__).resolve().parent.parent
BUCKET = "bench-bucket"
CAMPAIGN_ID = "recipe"
# The adapters' client names: "sesv2-send" is SES v2 for SendBulkEmail (no SDK retries).
SERVICES = ("s3", "dynamodb", "sesv2", "sesv2-send", "secretsmanager", "stepfunctions")
# Over the template's Globals environment: names for the stubbed resources, dummy credentials.
ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
    "BUCKET_NAME": BUCKET,
    "RUNS_TABLE": "bench-runs",
    "LEDGER_TABLE": "bench-ledger",
    "SUPPRESSION_TABLE": "bench-suppression",
    "ENGAGEMENT_TABLE": "bench-engagement",
    "STATE_MACHINE_ARN": "arn:aws:states:us-east-1:123456789012:stateMachine:bench",
    "CONFIGURATION_SET": "bench-configuration-set",
    "UNSUBSCRIBE_BASE_URL": "https://unsubscribe.example.com/u",
    "UNSUBSCRIBE_SECRET_ARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:bench-unsubscribe",
    "POWERTOOLS_SERVICE_NAME": "campaign-engine",
    "POWERTOOLS_METRICS_NAMESPACE": "CampaignEngine",
    # Only warnings in the bench's output; X-Ray has no daemon here. Metrics stay on: their
    # EMF lines are printed (to a sink, see quiet()) at the end of every invocation, as in Lambda.
    "POWERTOOLS_LOG_LEVEL": "WARNING",
    "POWERTOOLS_TRACE_DISABLED": "true",
}


def template() -> dict[str, Any]:
    from campaign_local import cfn  # yaml only: no moto

    return cfn.load(ROOT / "template.yaml")


def functions() -> dict[str, dict[str, Any]]:
    """Every function of template.yaml by short name (``SendBatch`` for SendBatchFunction):
    its code directory and memory size (Globals when the function sets none)."""
    document = template()
    default = document.get("Globals", {}).get("Function", {}).get("MemorySize", 128)
    found = {}
    for logical, resource in document["Resources"].items():
        if resource["Type"] == "AWS::Serverless::Function":
            props = resource["Properties"]
            found[logical.removesuffix("Function")] = {
                "code_dir": props["CodeUri"].rstrip("/"),
                "memory_mb": int(props.get("MemorySize", default)),
            }
    return found


def template_environment() -> dict[str, str]:
    """The Globals environment of template.yaml: plain values, and parameters at their defaults
    (MAX_CONCURRENCY_CAP, LEDGER_TTL_DAYS, ...); resource names are the bench's own."""
    document = template()
    parameters = document.get("Parameters", {})
    found = {}
    for name, value in document["Globals"]["Function"]["Environment"]["Variables"].items():
        if isinstance(value, str):
            found[name] = value
        elif isinstance(value, dict) and value.get("Ref") in parameters and "Default" in parameters[value["Ref"]]:
            found[name] = str(parameters[value["Ref"]]["Default"])
    return found


def write_json(path: Path, document: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2, default=str))


def prepare_environment() -> None:
    os.environ.update({**template_environment(), **ENVIRONMENT})
    for layer in (ROOT / "layers" / "campaign", ROOT):
        if str(layer) not in sys.path:
            sys.path.insert(0, str(layer))
    # A handler that adds no metric (SendBatch of a run no longer running) warns about it.
    warnings.filterwarnings("ignore", message="No application metrics to publish")


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Send what handlers print (EMF metric lines) to /dev/null, as Lambda sends it to its
    logs, so the bench's own output stays readable. Swapped once, around a whole measurement,
    because worker threads print concurrently."""
    saved = sys.stdout
    with open(os.devnull, "w") as sink:
        sys.stdout = sink
        try:
            yield
        finally:
            sys.stdout = saved


class Context:
    """The Lambda context attributes Powertools reads."""

    def __init__(self, name: str, memory_mb: int = 512) -> None:
        self.function_name = name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{name}"
        self.memory_limit_in_mb = memory_mb
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{name}"
        self.log_stream_name = "bench"

    def get_remaining_time_in_millis(self) -> int:
        return 300_000


_MODULES: dict[str, ModuleType] = {}


def _snake(name: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in name).lstrip("_")


def handler(function: str) -> Callable[[Any, Any], Any]:
    """functions/<dir>/app.py under a unique module name (every handler file is app.py)."""
    module = _MODULES.get(function)
    if module is None:
        path = ROOT / "functions" / _snake(function) / "app.py"
        spec = importlib.util.spec_from_file_location(f"_bench_{function}_app", path)
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
        _MODULES[function] = module
    return module.handler


def invoke(function: str, event: Any) -> Any:
    """Call a handler the way Lambda does: a JSON event in, a JSON result out."""
    result = handler(function)(json.loads(json.dumps(event)), Context(function))
    return json.loads(json.dumps(result))


def install(stub: StubAws, *, parameter_validation: bool | None = None) -> None:
    """Point the engine's cached boto3 clients at the stubs (and forget cached settings and
    secrets, so one process can run several benches). ``parameter_validation`` is a what-if:
    None keeps the engine's own client configs (adapters/aws.py: no botocore validation for
    SES v2 and DynamoDB), True or False forces it on or off for every client."""
    import boto3
    from botocore.config import Config
    from campaign_engine.adapters import aws, secrets
    from campaign_engine.config import settings

    aws.reset()
    secrets.reset()
    settings.cache_clear()
    for service in SERVICES:
        client = aws.client(service)
        if parameter_validation is not None:
            config = aws._CONFIGS.get(service, aws._DEFAULT).merge(Config(parameter_validation=parameter_validation))
            name = "sesv2" if service == aws.SES_SEND else service
            client = aws._CLIENTS[service] = boto3.client(name, config=config)  # the adapter's cache
        stub.attach(client)


def put_recipe(stub: StubAws, *, send_rate_share: float | None = None) -> dict[str, Any]:
    """The recipe's campaign definition and templates in the stub bucket."""
    definition = json.loads((ROOT / "examples" / "recipe" / "campaign.json").read_text())
    if send_rate_share is not None:
        definition["send_rate_share"] = send_rate_share
    stub.s3.put(f"campaigns/{CAMPAIGN_ID}.json", json.dumps(definition).encode())
    for path in sorted((ROOT / "templates").glob("*.json")):
        stub.s3.put(f"templates/{path.stem}.json", path.read_bytes())
    return definition


def upload_event(key: str, etag: str = "bench-etag") -> dict[str, Any]:
    """The S3 notification StartCampaign receives for an upload."""
    return {
        "Records": [
            {
                "eventSource": "aws:s3",
                "eventName": "ObjectCreated:Put",
                "s3": {"bucket": {"name": BUCKET}, "object": {"key": key, "eTag": etag}},
            }
        ]
    }


def start_and_prepare(stub: StubAws, key: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """StartCampaign for an upload, then Prepare with the execution input it started.
    Returns (run input, Prepare's result)."""
    started = invoke("StartCampaign", upload_event(key))
    run_input = stub.services["stepfunctions"].started[-1]
    if not (started["runs"] and started["runs"][0]["started"]):
        raise RuntimeError(f"StartCampaign started no run: {started}")
    stub.dynamodb.seed_run(os.environ["RUNS_TABLE"], run_input["campaign_id"], run_input["run_id"])
    return run_input, invoke("Prepare", run_input)


def batch_events(stub: StubAws, prepared: dict[str, Any]) -> list[dict[str, Any]]:
    """What the Distributed Map gives each child: the run's context and one item of items.json."""
    items = json.loads(stub.s3.objects[prepared["items_key"]])
    return [{"context": prepared["context"], "item": item} for item in items]
