"""The local stack runs the real handlers in-process: prove the moto patch is in effect.

moto's ``LambdaFunction._invoke_lambda`` is private; if a moto upgrade renamed it, the local
stack would silently fall back to Docker (absent here) and these tests would fail first.
"""

from __future__ import annotations

import json

from moto.awslambda.models import LambdaFunction

from campaign_local import lambdas


def test_the_patch_replaces_motos_private_invoke(stack):
    assert lambdas.installed()
    assert LambdaFunction._invoke_lambda is lambdas._invoke_in_process
    assert callable(lambdas._original_invoke) and lambdas._original_invoke is not lambdas._invoke_in_process


def test_boto3_invoke_runs_the_real_handler(stack):
    name = next(n for n, code in lambdas.REGISTRY.functions.items() if code.logical_id == "StartCampaignFunction")
    response = stack.client("lambda").invoke(FunctionName=name, Payload=json.dumps({"unexpected": True}))
    payload = json.loads(response["Payload"].read())
    # The real StartCampaign refuses an event that is neither an S3 notification nor a schedule.
    assert response.get("FunctionError") == "Handled"
    assert payload["errorType"] == "CampaignError"
    assert "unrecognised trigger event" in payload["errorMessage"]
    assert lambdas.REGISTRY.count("StartCampaignFunction") == 1


def test_every_template_function_is_registered_with_its_code(stack):
    logical = {code.logical_id: code for code in lambdas.REGISTRY.functions.values()}
    assert set(logical) >= {"StartCampaignFunction", "PrepareFunction", "SendBatchFunction", "FinalizeFunction"}
    for code in logical.values():
        assert (code.code_dir / "app.py").is_file()
        assert callable(lambdas.load_handler(code))


def test_the_local_environment_comes_from_template_yaml(stack):
    env = stack.environment
    assert env["POWERTOOLS_SERVICE_NAME"] == "campaign-engine"
    assert env["BUCKET_NAME"] == "campaign-local-123456789012-us-east-1"
    assert env["STATE_MACHINE_ARN"].endswith(":stateMachine:campaign-local-campaign")
    tables = stack.client("dynamodb").list_tables()["TableNames"]
    assert {env["RUNS_TABLE"], env["LEDGER_TABLE"], env["SUPPRESSION_TABLE"]} <= set(tables)
    assert env["UNSUBSCRIBE_SECRET_ARN"].startswith("arn:aws:secretsmanager:")
    definition = stack.client("stepfunctions").describe_state_machine(stateMachineArn=stack.state_machine_arn)
    assert "${" not in definition["definition"]  # every substitution resolved
    assert '"ExecutionType": "STANDARD"' in definition["definition"]  # the local override
