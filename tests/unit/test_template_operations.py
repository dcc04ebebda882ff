"""The operations part of the template (docs/operations.md) on what `chalice package` would
write (tests/support/chalice_template.py): alarms to the topic, an alarm on every DLQ and every
function, the outbox, the API, no orders in business hours, the dashboard against the metric
catalogue, X-Ray. Every check is shown to fail on a template missing what it checks; the docs
name every catalogue metric and every alarm's section."""
from __future__ import annotations

import copy
import re
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from infra import verify_operations as vo
from oms.observability.metrics import CATALOGUE, Metric
from tests.support.chalice_template import packaged_template

ROOT = Path(__file__).resolve().parents[2]
OPERATIONS_DOC = ROOT / "docs" / "operations.md"
CHECKS = [vo.check_alarm_actions, vo.check_dlq_alarms, vo.check_function_alarms, vo.check_outbox_alarm,
          vo.check_api, vo.check_no_orders_alarm, vo.check_dashboard, vo.check_tracing]


@pytest.fixture(scope="module")
def template() -> dict:
    return packaged_template()


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__)
def test_the_packaged_template_passes(template, check):
    result = check(template)
    assert result.ok, result.report()


def test_what_the_checks_cover(template):
    """The checks see every function Chalice and template.yaml make and every DLQ, so a check
    that passes is not passing over nothing."""
    assert len(vo.functions_of(template)) == 21
    assert {"APIHandler", "OpsTokenAuthorizer", "AnalyticsApiHandler", "HandleTableStream"} <= set(
        vo.functions_of(template))
    assert vo.check_dlq_alarms(template).summary == "11 DLQs"
    assert vo.stream_functions(template) == ["HandleTableStream"]
    assert len(vo.alarms_of(template)) == 2 * 21 + 11 + 3


# ---- each check fails when its thing is missing ----------------------------------------------------
def _resources(t):
    return t["Resources"]


def _drop_dlq_alarm(t):
    _resources(t).pop("OutboxDeadLetterQueueAlarm")


def _new_dlq_without_alarm(t):
    _resources(t)["RefundsDeadLetterQueue"] = {"Type": "AWS::SQS::Queue", "Properties": {
        "QueueName": {"Fn::Sub": "oms-${Stage}-refunds-dlq"}}}


def _dlq_alarm_on_average(t):
    _resources(t)["AnalyticsDeadLetterQueueAlarm"]["Properties"]["Statistic"] = "Average"


def _drop_throttles_alarm(t):
    _resources(t).pop("AnalyticsApiHandlerThrottlesAlarm")


def _drop_errors_alarm(t):
    _resources(t).pop("HandleTableStreamErrorsAlarm")


def _new_function_without_alarms(t):
    """A handler added to app.py: Chalice makes its function, nobody its alarms."""
    function = copy.deepcopy(_resources(t)["HandleSlaSweep"])
    function["Properties"]["Handler"] = "app.handle_new_sweep"
    _resources(t)["HandleNewSweep"] = function


def _errors_alarm_above_five(t):
    _resources(t)["HandleValidationErrorsAlarm"]["Properties"]["Threshold"] = 5


def _alarm_to_another_topic(t):
    _resources(t)["HandlePaymentsErrorsAlarm"]["Properties"]["AlarmActions"] = [{"Ref": "SomeOtherTopic"}]


def _alarm_without_ok_actions(t):
    _resources(t)["Api5xxRateAlarm"]["Properties"].pop("OKActions")


def _alarm_without_missing_data_choice(t):
    _resources(t)["OutboxIteratorAgeAlarm"]["Properties"].pop("TreatMissingData")


def _alarm_named_outside_the_topic_policy(t):
    _resources(t)["NoOrdersAlarm"]["Properties"]["AlarmName"] = "no-orders"


def _topic_policy_for_other_alarms(t):
    statement = _resources(t)["AlarmTopicPolicy"]["Properties"]["PolicyDocument"]["Statement"][0]
    statement["Condition"]["ArnLike"]["aws:SourceArn"] = {
        "Fn::Sub": "arn:${AWS::Partition}:cloudwatch:${AWS::Region}:${AWS::AccountId}:alarm:shop-*"}


def _topic_on_the_aws_managed_key(t):
    _resources(t)["AlarmTopic"]["Properties"]["KmsMasterKeyId"] = "alias/aws/sns"


def _key_cloudwatch_may_not_use(t):
    statements = _resources(t)["AlarmTopicKey"]["Properties"]["KeyPolicy"]["Statement"]
    statements[:] = [s for s in statements if s.get("Sid") != "CloudWatchAlarms"]


def _drop_iterator_age_alarm(t):
    _resources(t).pop("OutboxIteratorAgeAlarm")


def _iterator_age_at_five_minutes(t):
    _resources(t)["OutboxIteratorAgeAlarm"]["Properties"]["Threshold"] = 300000


def _unthrottled_api(t):
    _resources(t)["RestAPI"]["Properties"].pop("MethodSettings")


def _untraced_api(t):
    _resources(t)["RestAPI"]["Properties"].pop("TracingEnabled")


def _5xx_alarm_on_another_api(t):
    metrics = _resources(t)["Api5xxRateAlarm"]["Properties"]["Metrics"]
    metrics[0]["MetricStat"]["Metric"]["Dimensions"][0]["Value"] = "oms"  # Chalice's title, not the API's name


def _5xx_count_not_rate(t):
    properties = _resources(t)["Api5xxRateAlarm"]["Properties"]
    properties["Metrics"] = [m for m in properties["Metrics"] if m["Id"] != "requests"]


def _drop_5xx_alarm(t):
    _resources(t).pop("Api5xxRateAlarm")


def _no_orders_without_fill(t):
    _resources(t)["NoOrdersAlarm"]["Properties"]["Metrics"][1]["Expression"] = "received"


def _no_orders_on_a_channel(t):
    dimensions = _resources(t)["NoOrdersAlarm"]["Properties"]["Metrics"][0]["MetricStat"]["Metric"]["Dimensions"]
    dimensions.append({"Name": "channel", "Value": "shopify"})


def _no_orders_around_the_clock(t):
    _resources(t)["NoOrdersAlarm"]["Properties"]["Metrics"][2]["Expression"] = "orders"


def _no_orders_missing_breaches(t):
    _resources(t)["NoOrdersAlarm"]["Properties"]["TreatMissingData"] = "breaching"


def _dashboard_without_a_metric(t):
    body = _resources(t)["OperationsDashboard"]["Properties"]["DashboardBody"]
    body["Fn::Sub"] = body["Fn::Sub"].replace('"OMS", "Refunds"', '"OMS", "Refund"')


def _dashboard_without_a_breakdown(t):
    body = _resources(t)["OperationsDashboard"]["Properties"]["DashboardBody"]
    body["Fn::Sub"] = body["Fn::Sub"].replace("{OMS,stage,carrier}", "{OMS,stage}")


def _dashboard_broken_json(t):
    body = _resources(t)["OperationsDashboard"]["Properties"]["DashboardBody"]
    body["Fn::Sub"] = body["Fn::Sub"].replace("]}", "]", 1)


def _dashboard_names_a_missing_resource(t):
    body = _resources(t)["OperationsDashboard"]["Properties"]["DashboardBody"]
    body["Fn::Sub"] = body["Fn::Sub"].replace("${OutboxDeadLetterQueue.QueueName}", "${OutboxDLQ.QueueName}")


def _dashboard_without_a_function(t):
    body = _resources(t)["OperationsDashboard"]["Properties"]["DashboardBody"]
    body["Fn::Sub"] = body["Fn::Sub"].replace('"Duration", "FunctionName", "${HandleImports}"',
                                              '"Duration", "FunctionName", "${HandleService}"')


def _function_not_traced(t):
    _resources(t)["HandleAnalyticsJobs"]["Properties"]["Tracing"] = "PassThrough"


def _role_without_xray(t):
    role = _resources(t)["HandleAnalyticsJobsRole"]["Properties"]
    role["ManagedPolicyArns"] = [arn for arn in role["ManagedPolicyArns"] if arn != {"Ref": "TracingPolicy"}]


BREAKERS = [
    (_drop_dlq_alarm, vo.check_dlq_alarms), (_new_dlq_without_alarm, vo.check_dlq_alarms),
    (_dlq_alarm_on_average, vo.check_dlq_alarms), (_new_dlq_without_alarm, vo.check_dashboard),
    (_drop_throttles_alarm, vo.check_function_alarms), (_drop_errors_alarm, vo.check_function_alarms),
    (_new_function_without_alarms, vo.check_function_alarms), (_new_function_without_alarms, vo.check_dashboard),
    (_errors_alarm_above_five, vo.check_function_alarms),
    (_alarm_to_another_topic, vo.check_alarm_actions), (_alarm_without_ok_actions, vo.check_alarm_actions),
    (_alarm_without_missing_data_choice, vo.check_alarm_actions),
    (_alarm_named_outside_the_topic_policy, vo.check_alarm_actions),
    (_topic_policy_for_other_alarms, vo.check_alarm_actions), (_topic_on_the_aws_managed_key, vo.check_alarm_actions),
    (_key_cloudwatch_may_not_use, vo.check_alarm_actions),
    (_drop_iterator_age_alarm, vo.check_outbox_alarm), (_iterator_age_at_five_minutes, vo.check_outbox_alarm),
    (_unthrottled_api, vo.check_api), (_untraced_api, vo.check_api), (_5xx_alarm_on_another_api, vo.check_api),
    (_5xx_count_not_rate, vo.check_api), (_drop_5xx_alarm, vo.check_api),
    (_no_orders_without_fill, vo.check_no_orders_alarm), (_no_orders_on_a_channel, vo.check_no_orders_alarm),
    (_no_orders_around_the_clock, vo.check_no_orders_alarm), (_no_orders_missing_breaches, vo.check_no_orders_alarm),
    (_dashboard_without_a_metric, vo.check_dashboard), (_dashboard_without_a_breakdown, vo.check_dashboard),
    (_dashboard_broken_json, vo.check_dashboard), (_dashboard_names_a_missing_resource, vo.check_dashboard),
    (_dashboard_without_a_function, vo.check_dashboard),
    (_function_not_traced, vo.check_tracing), (_role_without_xray, vo.check_tracing),
]


@pytest.mark.parametrize(("break_it", "check"), BREAKERS,
                         ids=[f"{b.__name__[1:]}-{c.__name__[6:]}" for b, c in BREAKERS])
def test_the_check_fails_on_a_broken_template(template, break_it, check):
    broken = copy.deepcopy(template)
    break_it(broken)
    assert check(template).ok
    assert not check(broken).ok


def test_a_metric_added_to_the_catalogue_needs_its_widget(template):
    grown = (*CATALOGUE, Metric("LabelsVoided", "labels voided", "carrier"))
    check = vo.check_dashboard(template, catalogue=grown)
    assert [p for p in check.problems if "LabelsVoided" in p], check.problems


# ---- business hours --------------------------------------------------------------------------------
def _business_minute(template: dict, at: datetime, **parameters: int) -> bool:
    """Whether the no-orders alarm's expression keeps the data point at `at` (UTC), evaluated as
    CloudWatch would: DAY() is the ISO weekday (1 Monday), HOUR() the UTC hour."""
    defaults = {name: p.get("Default") for name, p in template["Parameters"].items()}
    values = {**defaults, **parameters}
    expression = vo.expressions(template["Resources"]["NoOrdersAlarm"]["Properties"])[-1]
    expression = re.sub(r"\$\{(\w+)\}", lambda m: str(values[m.group(1)]), expression)
    condition = re.fullmatch(r"IF\((.*),\s*orders\)", " ".join(expression.split())).group(1)
    python = (condition.replace("DAY(orders)", str(at.isoweekday())).replace("HOUR(orders)", str(at.hour))
              .replace(" AND ", " and ").replace(" OR ", " or "))
    assert re.fullmatch(r"[\d\s<>=()andor]+", python), python
    return bool(eval(python, {"__builtins__": {}}))  # digits, comparisons, and/or only (asserted above)


def test_the_no_orders_alarm_counts_only_business_hours(template):
    monday = datetime(2026, 11, 30)  # a Monday
    assert monday.isoweekday() == 1
    assert not _business_minute(template, monday.replace(hour=7, minute=59))
    assert _business_minute(template, monday.replace(hour=8))
    assert _business_minute(template, monday + timedelta(days=4, hours=19, minutes=59))  # Friday 19:59
    assert not _business_minute(template, monday + timedelta(days=4, hours=20))
    assert not _business_minute(template, monday + timedelta(days=5, hours=12))  # Saturday noon
    assert _business_minute(template, monday + timedelta(days=5, hours=12), LastBusinessDay=6)
    assert not _business_minute(template, monday + timedelta(days=6, hours=12), LastBusinessDay=6)  # Sunday
    assert _business_minute(template, monday.replace(hour=23), BusinessHoursStartUtc=22, BusinessHoursEndUtc=24)


def test_the_alarm_waits_for_as_many_minutes_as_the_parameter_says(template):
    alarm = template["Resources"]["NoOrdersAlarm"]["Properties"]
    parameter = template["Parameters"]["NoOrdersMinutes"]
    assert alarm["EvaluationPeriods"] == alarm["DatapointsToAlarm"] == {"Ref": "NoOrdersMinutes"}
    assert parameter["Default"] == 30 and parameter["MaxValue"] * 60 <= 86400  # an alarm looks back a day at most


# ---- the docs --------------------------------------------------------------------------------------
def test_the_docs_name_every_catalogue_metric_in_the_metrics_table():
    section = re.search(r"^## Metrics$(.*?)(?=^## )", OPERATIONS_DOC.read_text(), re.MULTILINE | re.DOTALL).group(1)
    table = {m.group(1): m.group(2) for m in re.finditer(r"^\| `(\w+)` \| ([^|]*) \|", section, re.MULTILINE)}
    for metric in CATALOGUE:
        assert metric.name in table, f"docs/operations.md's metrics table has no row for {metric.name}"
        assert (f"`{metric.by}`" in table[metric.name]) == bool(metric.by), (metric.name, table[metric.name])
    assert set(table) <= {m.name for m in CATALOGUE}, set(table) - {m.name for m in CATALOGUE}


def _anchors(markdown: str) -> set[str]:
    headings = re.findall(r"^#+ (.+)$", markdown, re.MULTILINE)
    return {re.sub(r"[^a-z0-9 -]", "", h.lower()).replace(" ", "-") for h in headings}


def test_every_alarm_points_at_a_section_of_the_docs(template):
    anchors = _anchors(OPERATIONS_DOC.read_text())
    for logical_id, alarm in vo.alarms_of(template).items():
        description = vo.sub_text(alarm["Properties"].get("AlarmDescription")) or ""
        match = re.search(r"docs/operations\.md#([\w-]+)", description)
        assert match, f"{logical_id}'s description does not point at docs/operations.md"
        assert match.group(1) in anchors, f"{logical_id} points at #{match.group(1)}, not a heading of the docs"
