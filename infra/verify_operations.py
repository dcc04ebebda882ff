"""The operations half of the template checks (docs/operations.md): infra.verify_package runs
them on build/sam.yaml, tests/unit/test_template_operations.py on template.yaml merged over
Chalice's functions. Each takes the whole (untransformed) template.

  alarm actions   every alarm notifies AlarmTopic on ALARM and on OK, treats missing data as it
                  says, and is named oms-${Stage}-... (the topic's policy lets only those
                  publish); the topic is encrypted with a key CloudWatch may use.
  DLQ alarms      every dead-letter queue alarms on one visible message.
  function alarms every function alarms on an error and on a throttle.
  outbox alarm    every stream-fed function alarms when its iterator age passes 60 s.
  API             RestAPI is named, traced and throttled; its 5xx-rate alarm watches its ApiName and stage.
  no orders       the business-hours alarm on OMS OrdersReceived [stage], missing minutes FILLed with 0.
  dashboard       DashboardBody is JSON once substituted, names only what exists, has a widget per
                  metrics.CATALOGUE entry (the total, and a SEARCH by its breakdown), and shows every
                  DLQ, every function's errors, throttles and duration, the iterator age and the API.
  tracing         every function has Tracing Active and a role that may write to X-Ray.
"""
from __future__ import annotations

import fnmatch
import json
import re
import sys
from collections.abc import Iterable
from typing import Any

from .verify_template import ROOT, Check, _timed, dead_letter_queues, referenced_id, resources_of

ALARM_TOPIC, TOPIC_POLICY, DASHBOARD, REST_API = "AlarmTopic", "AlarmTopicPolicy", "OperationsDashboard", "RestAPI"
ALARM_PREFIX = "oms-${Stage}-"
MISSING_DATA = ("breaching", "notBreaching", "ignore", "missing")
ITERATOR_AGE_LIMIT_MS = 60_000
PSEUDO_PARAMETERS = {"AWS::AccountId", "AWS::Region", "AWS::Partition", "AWS::URLSuffix", "AWS::StackName",
                     "AWS::StackId", "AWS::NoValue", "AWS::NotificationARNs"}
XRAY_WRITE = {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}
XRAY_MANAGED_POLICIES = ("AWSXRayDaemonWriteAccess", "AWSXrayWriteOnlyAccess")


def metrics_catalogue() -> tuple:
    """oms.observability.metrics.CATALOGUE from the source tree (layers/), whatever sys.path is."""
    layers = str(ROOT / "layers")
    if layers not in sys.path:
        sys.path.append(layers)
    from oms.observability.metrics import CATALOGUE

    return CATALOGUE


# ---- reading alarms ----------------------------------------------------------------------------
def functions_of(template: dict) -> dict[str, dict]:
    return resources_of(template, "AWS::Serverless::Function")


def function_property(template: dict, function: dict, name: str) -> Any:
    """A function's property, or the Globals' default."""
    default = template.get("Globals", {}).get("Function", {}).get(name)
    return function.get("Properties", {}).get(name, default)


def alarms_of(template: dict) -> dict[str, dict]:
    return resources_of(template, "AWS::CloudWatch::Alarm")


def dimensions(value: Any) -> dict[str, Any]:
    return {d.get("Name"): d.get("Value") for d in value or [] if isinstance(d, dict)}


def watched(properties: dict) -> list[dict]:
    """The metrics an alarm reads, a simple alarm's one or a metric-math alarm's MetricStats:
    {id, namespace, name, dimensions, stat, period}."""
    if properties.get("MetricName"):
        return [{"id": None, "namespace": properties.get("Namespace"), "name": properties["MetricName"],
                 "dimensions": dimensions(properties.get("Dimensions")), "stat": properties.get("Statistic"),
                 "period": properties.get("Period")}]
    found = []
    for query in properties.get("Metrics") or []:
        stat = query.get("MetricStat")
        if isinstance(stat, dict):
            metric = stat.get("Metric", {})
            found.append({"id": query.get("Id"), "namespace": metric.get("Namespace"), "name": metric.get("MetricName"),
                          "dimensions": dimensions(metric.get("Dimensions")), "stat": stat.get("Stat"),
                          "period": stat.get("Period")})
    return found


def expressions(properties: dict) -> list[str]:
    """A metric-math alarm's expressions (a Sub's template text as written)."""
    texts = []
    for query in properties.get("Metrics") or []:
        expression = query.get("Expression")
        if isinstance(expression, dict):
            expression = expression.get("Fn::Sub")
            expression = expression[0] if isinstance(expression, list) else expression
        if isinstance(expression, str):
            texts.append(expression)
    return texts


def alarms_on(template: dict, namespace: str, name: str, dimension: str, target: str) -> list[tuple[str, dict]]:
    """The alarms reading namespace/name whose `dimension` refers to the resource `target`."""
    return [(logical_id, alarm["Properties"]) for logical_id, alarm in alarms_of(template).items()
            for metric in watched(alarm.get("Properties", {}))
            if (metric["namespace"], metric["name"]) == (namespace, name)
            and referenced_id(metric["dimensions"].get(dimension)) == target]


def sub_text(value: Any) -> str | None:
    """The template text of "literal" or !Sub "text"."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Sub" in value:
        text = value["Fn::Sub"]
        text = text[0] if isinstance(text, list) else text
        return text if isinstance(text, str) else None
    return None


def statements(document: Any) -> list[dict]:
    found = (document or {}).get("Statement", []) if isinstance(document, dict) else []
    return [found] if isinstance(found, dict) else [s for s in found if isinstance(s, dict)]


def as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def _is_threshold_alarm(properties: dict, comparison: str, threshold: float) -> bool:
    try:
        return properties.get("ComparisonOperator") == comparison and float(properties.get("Threshold")) == threshold
    except (TypeError, ValueError):
        return False


# ---- alarm actions and the topic ---------------------------------------------------------------
@_timed
def check_alarm_actions(template: dict) -> Check:
    """Every alarm notifies AlarmTopic on ALARM and OK and chooses its missing-data treatment; the
    topic's policy admits every alarm's name; the topic's key lets CloudWatch encrypt."""
    check = Check("alarms: to AlarmTopic")
    resources = template.get("Resources", {})
    topic = resources.get(ALARM_TOPIC)
    alarms = alarms_of(template)
    if not topic or topic.get("Type") != "AWS::SNS::Topic":
        check.problems.append(f"no AWS::SNS::Topic {ALARM_TOPIC}")
        return check
    check.problems += _topic_key_problems(resources, topic.get("Properties", {}))
    patterns = _topic_publishers(resources)
    if not patterns:
        check.problems.append(f"{TOPIC_POLICY} does not let cloudwatch.amazonaws.com publish to {ALARM_TOPIC}")
    to_topic = [{"Ref": ALARM_TOPIC}]
    for logical_id, alarm in alarms.items():
        properties = alarm.get("Properties", {})
        for key in ("AlarmActions", "OKActions"):
            if properties.get(key) != to_topic:
                check.problems.append(f"{logical_id} {key} is {properties.get(key)}, not [Ref {ALARM_TOPIC}]")
        if properties.get("ActionsEnabled") is False:
            check.problems.append(f"{logical_id} has its actions disabled")
        if properties.get("TreatMissingData") not in MISSING_DATA:
            check.problems.append(f"{logical_id} does not say how to treat missing data (TreatMissingData)")
        name = sub_text(properties.get("AlarmName"))
        if not name or not name.startswith(ALARM_PREFIX):
            check.problems.append(f"{logical_id} AlarmName {properties.get('AlarmName')} is not {ALARM_PREFIX}...")
        elif patterns and not any(fnmatch.fnmatchcase(name, p) for p in patterns):
            check.problems.append(f"{logical_id} ({name}) may not publish to {ALARM_TOPIC} ({', '.join(patterns)})")
    if not alarms:
        check.problems.append("no AWS::CloudWatch::Alarm in the template")
    check.summary = f"{len(alarms)} alarms"
    return check


def _topic_key_problems(resources: dict, topic: dict) -> list[str]:
    key = topic.get("KmsMasterKeyId")
    if not key:
        return [f"{ALARM_TOPIC} is not encrypted (KmsMasterKeyId)"]
    key_id = referenced_id(key)
    if resources.get(key_id, {}).get("Type") != "AWS::KMS::Key":
        return [f"{ALARM_TOPIC} KmsMasterKeyId {key} is not a key of this template: CloudWatch cannot use "
                "alias/aws/sns, and a key made elsewhere must let it (kms:Decrypt, kms:GenerateDataKey*)"]
    properties = resources[key_id].get("Properties", {})
    for statement in statements(properties.get("KeyPolicy")):
        services = as_list((statement.get("Principal") or {}).get("Service")) if isinstance(
            statement.get("Principal"), dict) else []
        actions = set(as_list(statement.get("Action")))
        if statement.get("Effect") == "Allow" and "cloudwatch.amazonaws.com" in services and (
                {"kms:Decrypt", "kms:GenerateDataKey*"} <= actions or "kms:*" in actions):
            break
    else:
        return [f"{key_id}'s policy does not let cloudwatch.amazonaws.com use it (kms:Decrypt, kms:GenerateDataKey*)"]
    if properties.get("EnableKeyRotation") is not True:
        return [f"{key_id} does not rotate (EnableKeyRotation)"]
    return []


def _topic_publishers(resources: dict) -> list[str]:
    """The alarm names (patterns) the topic's policy lets CloudWatch publish for."""
    policy = resources.get(TOPIC_POLICY, {})
    properties = policy.get("Properties", {})
    if policy.get("Type") != "AWS::SNS::TopicPolicy" or {"Ref": ALARM_TOPIC} not in as_list(properties.get("Topics")):
        return []
    patterns = []
    for statement in statements(properties.get("PolicyDocument")):
        principal = statement.get("Principal") if isinstance(statement.get("Principal"), dict) else {}
        if statement.get("Effect") != "Allow" or "cloudwatch.amazonaws.com" not in as_list(principal.get("Service")):
            continue
        if "sns:Publish" not in as_list(statement.get("Action")):
            continue
        source = sub_text(((statement.get("Condition") or {}).get("ArnLike") or {}).get("aws:SourceArn"))
        patterns.append(source.split(":alarm:", 1)[1] if source and ":alarm:" in source else "*")
    return patterns


# ---- DLQs, functions, the outbox ------------------------------------------------------------
@_timed
def check_dlq_alarms(template: dict) -> Check:
    """Every dead-letter queue: Maximum ApproximateNumberOfMessagesVisible > 0 over a minute."""
    check = Check("alarms: every DLQ")
    dlqs = sorted(dead_letter_queues(template))
    for dlq in dlqs:
        found = alarms_on(template, "AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", dlq)
        if not found:
            check.problems.append(f"no alarm on messages in {dlq}")
        for logical_id, properties in found:
            metric = watched(properties)[0]
            if (metric["stat"], metric["period"]) != ("Maximum", 60) or not _is_threshold_alarm(
                    properties, "GreaterThanThreshold", 0):
                check.problems.append(f"{logical_id} is not Maximum over 60 s > 0 (one message must alarm)")
    if not dlqs:
        check.problems.append("no dead-letter queue in the template")
    check.summary = f"{len(dlqs)} DLQs"
    return check


@_timed
def check_function_alarms(template: dict) -> Check:
    """Every function: Sum of Errors > 0 and Sum of Throttles > 0."""
    check = Check("alarms: every function's errors + throttles")
    functions = sorted(functions_of(template))
    for function in functions:
        for metric in ("Errors", "Throttles"):
            found = alarms_on(template, "AWS/Lambda", metric, "FunctionName", function)
            if not found:
                check.problems.append(f"no {metric} alarm on {function}")
            for logical_id, properties in found:
                if watched(properties)[0]["stat"] != "Sum" or not _is_threshold_alarm(
                        properties, "GreaterThanThreshold", 0):
                    check.problems.append(f"{logical_id} is not a Sum > 0 (one {metric.lower()[:-1]} must alarm)")
    if not functions:
        check.problems.append("no AWS::Serverless::Function in the template")
    check.summary = f"{len(functions)} functions"
    return check


def stream_functions(template: dict) -> list[str]:
    """Functions fed by a DynamoDB stream (the outbox publisher)."""
    return sorted(logical_id for logical_id, function in functions_of(template).items()
                  if any(event.get("Type") == "DynamoDB"
                         for event in (function.get("Properties", {}).get("Events") or {}).values()))


@_timed
def check_outbox_alarm(template: dict) -> Check:
    """Every stream-fed function: Maximum IteratorAge above at most 60 s."""
    check = Check("alarms: outbox iterator age")
    functions = stream_functions(template)
    for function in functions:
        found = alarms_on(template, "AWS/Lambda", "IteratorAge", "FunctionName", function)
        if not found:
            check.problems.append(f"no IteratorAge alarm on {function}, which reads the table's stream")
        for logical_id, properties in found:
            try:
                late = float(properties.get("Threshold")) > ITERATOR_AGE_LIMIT_MS
            except (TypeError, ValueError):
                late = True
            if watched(properties)[0]["stat"] != "Maximum" or late or properties.get(
                    "ComparisonOperator") != "GreaterThanThreshold":
                check.problems.append(f"{logical_id} is not Maximum > at most {ITERATOR_AGE_LIMIT_MS} ms")
    if not functions:
        check.problems.append("no function reads a DynamoDB stream")
    check.summary = ", ".join(functions)
    return check


# ---- the API -----------------------------------------------------------------------------------
@_timed
def check_api(template: dict) -> Check:
    """RestAPI: named as its OpenAPI title, traced, every method throttled; the 5xx-rate alarm
    divides its 5XXError by its Count (metric math) under its ApiName and stage."""
    check = Check("API: named, traced, throttled, 5xx rate")
    api = template.get("Resources", {}).get(REST_API, {}).get("Properties")
    if api is None:
        check.problems.append(f"no {REST_API}")
        return check
    name, stage = api.get("Name"), api.get("StageName")
    title = (api.get("DefinitionBody") or {}).get("info", {}).get("title")
    if not name:
        check.problems.append(f"{REST_API} has no Name (the ApiName its metrics carry)")
    elif title != name:
        check.problems.append(f"{REST_API} Name {name} and its OpenAPI title {title} differ")
    if api.get("TracingEnabled") is not True:
        check.problems.append(f"{REST_API} TracingEnabled is not true (X-Ray)")
    throttled = [s for s in api.get("MethodSettings") or []
                 if s.get("ResourcePath") == "/*" and s.get("HttpMethod") == "*"
                 and s.get("ThrottlingRateLimit") is not None and s.get("ThrottlingBurstLimit") is not None]
    if not throttled:
        check.problems.append(f"{REST_API} MethodSettings do not throttle every method (/*, *, rate and burst)")
    rate_alarms = []
    for logical_id, alarm in alarms_of(template).items():
        properties = alarm.get("Properties", {})
        metrics = {m["name"]: m for m in watched(properties) if m["namespace"] == "AWS/ApiGateway"}
        if "5XXError" not in metrics:
            continue
        rate_alarms.append(logical_id)
        if "Count" not in metrics:
            check.problems.append(f"{logical_id} watches 5XXError without Count: not a rate")
            continue
        for metric in metrics.values():
            if metric["dimensions"] != {"ApiName": name, "Stage": stage}:
                check.problems.append(f"{logical_id} {metric['name']} dimensions {metric['dimensions']} are not "
                                      f"{REST_API}'s ApiName {name} and Stage {stage}")
        ids = (metrics["5XXError"]["id"], metrics["Count"]["id"])
        if not any(all(re.search(rf"\b{i}\b", e) for i in ids) for e in expressions(properties)):
            check.problems.append(f"{logical_id} has no expression of {ids[0]} over {ids[1]}")
    if not rate_alarms:
        check.problems.append(f"no alarm on {REST_API}'s 5XXError rate")
    check.summary = f"throttled: {bool(throttled)}, 5xx alarms: {', '.join(rate_alarms) or 'none'}"
    return check


# ---- no orders in business hours ---------------------------------------------------------------
@_timed
def check_no_orders_alarm(template: dict) -> Check:
    """OMS OrdersReceived under [stage] only, FILLed with 0, kept to business hours by DAY()/HOUR(),
    below 1 for NoOrdersMinutes data points, missing (outside hours) data not breaching."""
    check = Check("alarms: no orders in business hours")
    parameters = template.get("Parameters", {})
    found = []
    for logical_id, alarm in alarms_of(template).items():
        properties = alarm.get("Properties", {})
        received = [m for m in watched(properties) if (m["namespace"], m["name"]) == ("OMS", "OrdersReceived")]
        if not received:
            continue
        found.append(logical_id)
        metric = received[0]
        if metric["dimensions"] != {"stage": {"Ref": "Stage"}} or metric["stat"] != "Sum":
            check.problems.append(f"{logical_id} reads {metric['dimensions']} {metric['stat']}, not the Sum of the "
                                  "total (dimension stage only)")
        texts = expressions(properties)
        if not any(re.search(rf"FILL\(\s*{metric['id']}\s*,\s*0\s*\)", t) for t in texts):
            check.problems.append(f"{logical_id} does not FILL {metric['id']} with 0 (a minute without orders)")
        if not any("IF(" in t and "DAY(" in t and "HOUR(" in t for t in texts):
            check.problems.append(f"{logical_id} has no IF(DAY(...) ... HOUR(...)) keeping business hours")
        for name in ("NoOrdersMinutes", "LastBusinessDay", "BusinessHoursStartUtc", "BusinessHoursEndUtc"):
            if name not in parameters:
                check.problems.append(f"no parameter {name}")
        if properties.get("EvaluationPeriods") != {"Ref": "NoOrdersMinutes"} or properties.get(
                "DatapointsToAlarm", properties.get("EvaluationPeriods")) != {"Ref": "NoOrdersMinutes"}:
            check.problems.append(f"{logical_id} does not alarm on NoOrdersMinutes data points out of as many")
        if metric["period"] != 60 or not _is_threshold_alarm(properties, "LessThanThreshold", 1):
            check.problems.append(f"{logical_id} is not per minute < 1")
        if properties.get("TreatMissingData") != "notBreaching":
            check.problems.append(f"{logical_id} must treat missing data (minutes outside business hours) as "
                                  "not breaching")
    if not found:
        check.problems.append("no alarm on OMS OrdersReceived")
    check.summary = ", ".join(found)
    return check


# ---- the dashboard -----------------------------------------------------------------------------
def dashboard_widgets(template: dict, resolve: bool = True) -> list[dict]:
    """The dashboard's widgets, its Sub variables left as ${Name} (ValueError if it is no JSON)."""
    body = sub_text(template.get("Resources", {}).get(DASHBOARD, {}).get("Properties", {}).get("DashboardBody"))
    if body is None:
        raise ValueError(f"{DASHBOARD} has no DashboardBody (a string or !Sub)")
    text = re.sub(r"\$\{!", "${", body)  # Sub's escape of a literal ${
    return json.loads(text).get("widgets", [])


def metric_rows(widget: dict) -> list[list]:
    """A widget's metric rows with "." (same as the row above) expanded."""
    rows, previous = [], []
    for row in (widget.get("properties") or {}).get("metrics") or []:
        if not isinstance(row, list):
            continue
        options = row[-1] if row and isinstance(row[-1], dict) else None
        values = row[:-1] if options is not None else row
        values = [previous[i] if v == "." and i < len(previous) else v for i, v in enumerate(values)]
        previous = values
        rows.append([*values, options] if options is not None else values)
    return rows


def _has_row(widgets: Iterable[dict], *values: str) -> bool:
    return any(row[:len(values)] == list(values) for widget in widgets for row in metric_rows(widget))


def _search_expressions(widget: dict) -> list[str]:
    return [row[0].get("expression", "") for row in metric_rows(widget)
            if row and isinstance(row[0], dict) and "SEARCH(" in row[0].get("expression", "")]


def sub_variables(text: str) -> set[str]:
    return {m.group(1) for m in re.finditer(r"\$\{([^!}][^}]*)\}", text)}


@_timed
def check_dashboard(template: dict, catalogue: Iterable | None = None) -> Check:
    """DashboardBody: JSON; every ${...} a parameter, resource, attribute or pseudo parameter; a
    widget per catalogue metric with its [stage] total and, where it has one, a SEARCH by its `by`;
    every DLQ's depth; every function's errors, throttles and duration; the iterator age; the API."""
    catalogue = metrics_catalogue() if catalogue is None else catalogue
    check = Check("dashboard: catalogue, DLQs, functions, API")
    resources = template.get("Resources", {})
    if resources.get(DASHBOARD, {}).get("Type") != "AWS::CloudWatch::Dashboard":
        check.problems.append(f"no AWS::CloudWatch::Dashboard {DASHBOARD}")
        return check
    try:
        widgets = dashboard_widgets(template)
    except ValueError as error:
        check.problems.append(f"{DASHBOARD} DashboardBody is not JSON once substituted: {error}")
        return check
    body = sub_text(resources[DASHBOARD]["Properties"]["DashboardBody"])
    known = set(template.get("Parameters", {})) | PSEUDO_PARAMETERS
    for variable in sorted(sub_variables(body)):
        if variable not in known and variable.split(".", 1)[0] not in resources:
            check.problems.append(f"{DASHBOARD} names ${{{variable}}}: no such parameter or resource")
    for metric in catalogue:
        holding = [w for w in widgets if _has_row([w], "OMS", metric.name, "stage", "${Stage}")]
        if not holding:
            check.problems.append(f"no widget shows {metric.name} (OMS, stage=${{Stage}})")
        elif metric.by and not any(
                f"{{OMS,stage,{metric.by}}}" in e and f'MetricName="{metric.name}"' in e and 'stage="${Stage}"' in e
                for w in holding for e in _search_expressions(w)):
            check.problems.append(f"the {metric.name} widget has no SEARCH('{{OMS,stage,{metric.by}}} "
                                  f'MetricName="{metric.name}" stage="${{Stage}}"\', ...) breakdown')
    for dlq in sorted(dead_letter_queues(template)):
        if not _has_row(widgets, "AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", f"${{{dlq}.QueueName}}"):
            check.problems.append(f"no widget shows the depth of {dlq}")
    for function in sorted(functions_of(template)):
        missing = [m for m in ("Errors", "Throttles", "Duration")
                   if not _has_row(widgets, "AWS/Lambda", m, "FunctionName", f"${{{function}}}")]
        if missing:
            check.problems.append(f"no widget shows {function}'s {', '.join(missing)}")
    for function in stream_functions(template):
        if not _has_row(widgets, "AWS/Lambda", "IteratorAge", "FunctionName", f"${{{function}}}"):
            check.problems.append(f"no widget shows {function}'s IteratorAge")
    api = resources.get(REST_API, {}).get("Properties", {})
    api_name = sub_text(api.get("Name"))
    for metric in ("4XXError", "5XXError", "Latency"):
        if not _has_row(widgets, "AWS/ApiGateway", metric, "ApiName", api_name, "Stage", api.get("StageName")):
            check.problems.append(f"no widget shows {REST_API}'s {metric} (ApiName {api_name}, "
                                  f"Stage {api.get('StageName')})")
    check.summary = f"{len(widgets)} widgets"
    return check


# ---- tracing -----------------------------------------------------------------------------------
def role_writes_to_xray(template: dict, role_id: str | None) -> bool:
    """Its inline and this template's managed policies let it write segments (or it has an AWS
    managed X-Ray write policy)."""
    from .verify_iam import allows, role_statements

    properties = template.get("Resources", {}).get(role_id, {}).get("Properties", {}) if role_id else {}
    if any(str(arn).endswith(XRAY_MANAGED_POLICIES) for arn in properties.get("ManagedPolicyArns") or []):
        return True
    statements = role_statements(template, role_id)
    return all(allows(statements, action, "*") for action in XRAY_WRITE)


@_timed
def check_tracing(template: dict) -> Check:
    """Every function: Tracing Active, and a role of this template allowed to write to X-Ray."""
    check = Check("tracing: X-Ray on every function")
    resources = template.get("Resources", {})
    functions = functions_of(template)
    for logical_id, function in sorted(functions.items()):
        tracing = function_property(template, function, "Tracing")
        if tracing != "Active":
            check.problems.append(f"{logical_id} Tracing is {tracing}, not Active")
        role = referenced_id(function_property(template, function, "Role"))
        if resources.get(role, {}).get("Type") != "AWS::IAM::Role":
            check.problems.append(f"{logical_id} Role {function_property(template, function, 'Role')} is not a role "
                                  "of this template")
        elif not role_writes_to_xray(template, role):
            check.problems.append(f"{logical_id}'s role {role} may not write to X-Ray "
                                  f"({', '.join(sorted(XRAY_WRITE))})")
    check.summary = f"{len(functions)} functions"
    return check


def checks(template: dict) -> list[Check]:
    return [check_alarm_actions(template), check_dlq_alarms(template), check_function_alarms(template),
            check_outbox_alarm(template), check_api(template), check_no_orders_alarm(template),
            check_dashboard(template), check_tracing(template)]
