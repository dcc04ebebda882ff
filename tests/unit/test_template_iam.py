"""Least privilege in the template, on what `chalice package` would write
(tests/support/chalice_template.py): a role of its own per function, no wildcard it does not
need, its event sources readable. Each check is shown to fail on a template that breaks it;
tests/integration/test_least_privilege.py shows the roles allow what the handlers really call."""
from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from infra import verify_iam as vi
from tests.support.chalice_template import packaged_template

ROOT = Path(__file__).resolve().parents[2]
CHECKS = [vi.check_function_roles, vi.check_least_privilege, vi.check_event_source_permissions, vi.check_encryption,
          vi.check_checkov_skips]


@pytest.fixture(scope="module")
def template() -> dict:
    return packaged_template()


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__)
def test_the_packaged_template_passes(template, check):
    result = check(template)
    assert result.ok, result.report()


def test_chalice_makes_no_role_and_every_function_has_its_own(template):
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    assert config["manage_iam_role"] is False
    assert "DefaultRole" not in template["Resources"]
    roles = {vi.referenced_id(vi.function_role(template, f)) for f in vi.functions_of(template).values()}
    assert len(roles) == len(vi.functions_of(template)) == 21


def _statement(t, role: str, sid: str) -> dict:
    for policy in t["Resources"][role]["Properties"]["Policies"]:
        for statement in policy["PolicyDocument"]["Statement"]:
            if statement.get("Sid") == sid:
                return statement
    raise KeyError(sid)


def _chalices_placeholder_role(t):
    """A handler added to app.py without a role in template.yaml runs as config.json's placeholder."""
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    t["Resources"]["HandleSlaSweep"]["Properties"]["Role"] = config["iam_role_arn"]


def _shared_role(t):
    t["Resources"]["HandleBackorderSweep"]["Properties"]["Role"] = {"Fn::GetAtt": ["HandleSlaSweepRole", "Arn"]}


def _orphan_role(t):
    t["Resources"]["DefaultRole"] = copy.deepcopy(t["Resources"]["HandleSlaSweepRole"])


def _assumed_by_ec2(t):
    statement = t["Resources"]["HandleImportsRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]
    statement["Principal"] = {"Service": ["lambda.amazonaws.com", "ec2.amazonaws.com"]}


def _aws_managed_policy(t):
    t["Resources"]["HandleValidationRole"]["Properties"]["ManagedPolicyArns"].append(
        "arn:aws:iam::aws:policy/AmazonDynamoDBFullAccess")


def _no_log_group(t):
    t["Resources"]["HandleService"]["Properties"].pop("LoggingConfig")


def _logs_everywhere(t):
    _statement(t, "HandlePaymentsRole", "Logs")["Resource"] = "arn:aws:logs:*:*:*"


def _log_group_kept_forever(t):
    t["Resources"]["HandleReturnsLogGroup"]["Properties"].pop("RetentionInDays")


def _service_wildcard(t):
    _statement(t, "HandleImportsRole", "Snapshots")["Action"] = "s3:*"


def _send_anywhere(t):
    _statement(t, "HandleAnalyticsNightlyRole", "Jobs")["Resource"] = "*"


def _every_secret(t):
    _statement(t, "HandlePaymentsRole", "StripeKey")["Resource"] = {
        "Fn::Sub": "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:*"}


def _pass_role(t):
    _statement(t, "APIHandlerRole", "Snapshots")["Action"] = ["s3:PutObject", "iam:PassRole"]


def _not_action(t):
    statement = _statement(t, "HandleFulfillmentRole", "EasyPostKey")
    statement["NotAction"] = statement.pop("Action")


def _queue_unreadable(t):
    _statement(t, "HandleAllocationRole", "Consume")["Action"] = ["sqs:ReceiveMessage", "sqs:GetQueueAttributes"]


def _wrong_queue(t):
    _statement(t, "HandleServiceRole", "Consume")["Resource"] = {"Fn::GetAtt": ["ServiceDeadLetterQueue", "Arn"]}


def _stream_unreadable(t):
    statement = _statement(t, "HandleTableStreamRole", "Stream")
    statement["Action"] = ["dynamodb:DescribeStream", "dynamodb:GetShardIterator"]


def _no_on_failure_queue(t):
    _statement(t, "HandleTableStreamRole", "OnFailure")["Resource"] = {"Fn::GetAtt": ["ServiceDeadLetterQueue", "Arn"]}


def _queue_unencrypted(t):
    t["Resources"]["ReturnsDeadLetterQueue"]["Properties"].pop("SqsManagedSseEnabled")


def _log_group_unencrypted(t):
    t["Resources"]["HandleSlaSweepLogGroup"]["Properties"].pop("KmsKeyId")


def _skip_without_reason(t):
    t["Resources"]["OmsTable"]["Metadata"]["checkov"]["skip"][0]["comment"] = ""


BREAKERS = [
    (_chalices_placeholder_role, vi.check_function_roles), (_shared_role, vi.check_function_roles),
    (_orphan_role, vi.check_function_roles), (_assumed_by_ec2, vi.check_function_roles),
    (_aws_managed_policy, vi.check_function_roles), (_no_log_group, vi.check_function_roles),
    (_logs_everywhere, vi.check_function_roles), (_log_group_kept_forever, vi.check_function_roles),
    (_service_wildcard, vi.check_least_privilege), (_send_anywhere, vi.check_least_privilege),
    (_every_secret, vi.check_least_privilege), (_pass_role, vi.check_least_privilege),
    (_not_action, vi.check_least_privilege),
    (_queue_unreadable, vi.check_event_source_permissions), (_wrong_queue, vi.check_event_source_permissions),
    (_stream_unreadable, vi.check_event_source_permissions), (_no_on_failure_queue, vi.check_event_source_permissions),
    (_queue_unencrypted, vi.check_encryption), (_log_group_unencrypted, vi.check_encryption),
    (_skip_without_reason, vi.check_checkov_skips),
]


@pytest.mark.parametrize(("break_it", "check"), BREAKERS,
                         ids=[f"{b.__name__[1:]}-{c.__name__[6:]}" for b, c in BREAKERS])
def test_the_check_fails_on_a_broken_template(template, break_it, check):
    broken = copy.deepcopy(template)
    break_it(broken)
    assert check(template).ok
    assert not check(broken).ok


def test_the_resource_matching_is_textual_and_exact():
    statements = [{"Effect": "Allow", "Action": ["sqs:SendMessage"], "Resource": [
        {"Fn::GetAtt": ["PaymentsQueue", "Arn"]}, {"Fn::Sub": "${OmsTable.Arn}/index/*"}]}]
    assert vi.allows(statements, "sqs:SendMessage", {"Fn::Sub": "${PaymentsQueue.Arn}"})
    assert not vi.allows(statements, "sqs:SendMessage", {"Fn::GetAtt": ["PaymentsDeadLetterQueue", "Arn"]})
    assert not vi.allows(statements, "sqs:DeleteMessage", {"Fn::GetAtt": ["PaymentsQueue", "Arn"]})
    assert vi.allows(statements, "SQS:SendMessage", "${OmsTable.Arn}/index/gsi1")
    assert not vi.allows(statements, "sqs:SendMessage", {"Fn::GetAtt": ["OmsTable", "Arn"]})
