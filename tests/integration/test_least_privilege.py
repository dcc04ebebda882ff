"""Each function's role allows what its handlers really call (tests/support/aws_permissions.py):
integration tests that between them run every order-path function are run again with their
AWS calls and secret lookups recorded, and each call is evaluated against the role of the
function it belongs to in what `chalice package` writes. The schedules are invoked here.
`make iam-audit` does the same over the whole integration suite."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import aws_permissions as permissions
from tests.support.chalice_template import packaged_template

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = [  # between them: every order-path function that a queue, a stream or the API runs
    "tests/integration/test_order_pipeline.py::test_an_order_goes_from_webhook_to_delivered",
    "tests/integration/test_returns.py::test_an_even_exchange_reserves_the_replacement_and_ships_it_once_the_return_arrives",
    "tests/integration/test_refunds.py::test_a_refund_by_amount_reaches_stripe_and_the_ledger",
    "tests/integration/test_channel_stock.py::test_stock_changes_reach_shopify_through_the_channel_updates_queue",
    "tests/integration/test_channel_stock.py::test_the_sweep_pushes_what_a_lost_message_left_and_reports_a_refusal",
    "tests/integration/test_snapshots.py::test_a_csv_dropped_into_the_bucket_is_reconciled_and_a_bad_one_rejected",
    "tests/integration/test_labels.py::test_the_labels_of_a_cancelled_order_are_voided_once",
    "tests/integration/test_analytics_api.py::test_history_import_then_summary_and_csv",
]
EXERCISED = {"APIHandler", "OpsTokenAuthorizer", "AnalyticsApiHandler", "HandleValidation", "HandleAllocation",
             "HandlePayments", "HandleFulfillment", "HandleReturns", "HandleService", "HandleChannelUpdates",
             "HandleImports", "HandleTableStream", "HandleAvailabilitySweep"}
SCHEDULES = ("handle_sla_sweep", "handle_reservation_sweep", "handle_backorder_sweep", "handle_reservation_check",
             "handle_replenishment_check")


@pytest.fixture(scope="module")
def template() -> dict:
    return packaged_template()


def test_the_order_paths_calls_are_allowed_by_each_functions_role(template, tmp_path):
    calls_file = tmp_path / "calls.jsonl"
    env = {**os.environ, "OMS_AWS_CALLS": str(calls_file)}
    env.pop("PYTEST_XDIST_WORKER", None)
    done = subprocess.run([sys.executable, "-m", "pytest", "-p", "tests.support.aws_permissions", "-q",
                           "-p", "no:randomly", "-o", "addopts=-p no:cacheprovider", *SCENARIOS],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    calls = permissions.read_calls(calls_file)
    assert EXERCISED <= {call.function for call in calls}, EXERCISED - {call.function for call in calls}
    assert {call.service for call in calls} >= {"dynamodb", "sqs", "events", "s3", "sesv2", "secretsmanager"}
    problems = permissions.denied(calls, template, permissions.resolver_for(template, mail_from="orders@shop.example"))
    assert not problems, "\n".join(problems)


def test_the_schedules_calls_are_allowed_by_their_roles(stocked, template):
    client = stocked.pipeline.client
    recorder = permissions.Recorder().install()
    try:
        for name in SCHEDULES:
            event = client.events.generate_cw_event(source="aws.events", detail_type="Scheduled Event", detail={},
                                                    resources=[])
            client.lambda_.invoke(name, event)
    finally:
        recorder.uninstall()
    assert {call.function for call in recorder.calls} == {permissions._camel(name) for name in SCHEDULES}
    problems = permissions.denied(recorder.calls, template, permissions.resolver_for(template))
    assert not problems, "\n".join(problems)


def test_a_call_the_role_does_not_allow_is_reported(template):
    """The evaluation can fail: calls the payments consumer has no business making."""
    resolver = permissions.resolver_for(template)
    sender = os.environ["OMS_MAIL_FROM"]  # MailFrom, the SES identity the template makes
    allowed = permissions.Call("HandleService", "sesv2", "SendEmail", {"FromEmailAddress": f"Shop <{sender}>"})
    assert not permissions.denied([allowed], template, resolver)
    calls = [permissions.Call("HandlePayments", "sesv2", "SendEmail", {"FromEmailAddress": sender}),
             permissions.Call("HandlePayments", "sqs", "SendMessage",
                              {"QueueUrl": "https://sqs.us-east-1.amazonaws.com/123456789012/oms-test-validation"}),
             permissions.Call("HandlePayments", "secretsmanager", "GetSecretValue",
                              {"SecretId": "oms/test/channels/shopify/token"}),
             permissions.Call("HandlePayments", "dynamodb", "TransactWriteItems", {"TransactItems": [
                 {"Put": {"TableName": "oms-other"}}]}),
             permissions.Call("HandlePayments", "kms", "Decrypt", {})]
    problems = permissions.denied(calls, template, resolver)
    assert len(problems) == 5, problems
    assert any("no IAM mapping" in p for p in problems)
