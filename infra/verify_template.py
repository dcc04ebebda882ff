"""The template half of the package verification (infra.verify_package runs it): reading
build/sam.yaml, and checking the structure every deploy relies on.

  structure   table stream + TTL, the custom bus, DLQ redrive on every consumer queue,
              ReportBatchItemFailures on every SQS/DynamoDB event-source mapping, and every
              rule that feeds a queue sits on the custom bus.
  analytics   every analytics route (/analytics..., /dashboard) goes to AnalyticsApiHandler and
              every other route to APIHandler; the analytics rule subscribes to exactly
              analytics.facts.EVENT_TYPES; each Glue table declares analytics.facts.TABLES' columns.
"""
from __future__ import annotations

import json
import re
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
STAGE_BUS_NAME = {"Fn::Sub": "oms-${Stage}"}
API_HANDLER, ANALYTICS_API_HANDLER = "APIHandler", "AnalyticsApiHandler"
ANALYTICS_RULE, FACTS_WRITER = "AnalyticsRule", "HandleAnalyticsFacts"
# The facts' DuckDB types as Glue (Hive) types.
GLUE_TYPES = {"VARCHAR": "string", "BIGINT": "bigint", "INTEGER": "int", "TIMESTAMP": "timestamp",
              "BOOLEAN": "boolean"}

@dataclass
class Check:
    name: str
    problems: list[str] = field(default_factory=list)
    summary: str = ""
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.problems

    def report(self) -> str:
        """The check's name and one problem a line: what a failing test shows."""
        return f"{self.name}: " + "\n  ".join(["", *self.problems])


def _timed(function: Callable) -> Callable:
    def wrapped(*args, **kwargs):
        started = time.perf_counter()
        result = function(*args, **kwargs)
        (result[0] if isinstance(result, tuple) else result).seconds = time.perf_counter() - started
        return result
    wrapped.__name__, wrapped.__doc__ = function.__name__, function.__doc__
    return wrapped


# ---- reading the template ------------------------------------------------------------------
def load_template(path: Path) -> dict:
    from .cfn import load_template as load

    return load(Path(path))


def resources_of(template: dict, resource_type: str) -> dict[str, dict]:
    return {k: v for k, v in template.get("Resources", {}).items() if v.get("Type") == resource_type}


def handlers_of(template: dict) -> list[str]:
    """Every Handler of every AWS::Serverless::Function (or the Globals default), e.g. app.app."""
    default = template.get("Globals", {}).get("Function", {}).get("Handler")
    handlers = []
    for properties in (r.get("Properties", {}) for r in resources_of(template, "AWS::Serverless::Function").values()):
        handler = properties.get("Handler", default)
        if handler and handler not in handlers:
            handlers.append(handler)
    return handlers


def handlers_by_package(template: dict) -> dict[str, list[str]]:
    """Each package a function runs from (its CodeUri's file name: deployment.zip, analytics.zip...)
    and the Handlers run from it."""
    defaults = template.get("Globals", {}).get("Function", {})
    packages: dict[str, list[str]] = {}
    for properties in (r.get("Properties", {}) for r in resources_of(template, "AWS::Serverless::Function").values()):
        code = properties.get("CodeUri", defaults.get("CodeUri"))
        handler = properties.get("Handler", defaults.get("Handler"))
        handlers = packages.setdefault(Path(code).name if isinstance(code, str) else json.dumps(code), [])
        if handler and handler not in handlers:
            handlers.append(handler)
    return packages


def referenced_id(value: Any) -> str | None:
    """The logical id an intrinsic points at: Ref X, GetAtt X.Attr, Sub "${X}" / "${X.Attr}"."""
    if not isinstance(value, dict) or len(value) != 1:
        return None
    (function, argument), = value.items()
    if function == "Ref" and isinstance(argument, str):
        return argument
    if function == "Fn::GetAtt":
        parts = argument.split(".", 1) if isinstance(argument, str) else argument
        return parts[0] if parts else None
    if function == "Fn::Sub" and isinstance(argument, str):
        text = argument.strip()
        if text.startswith("${") and text.endswith("}") and text.count("${") == 1:
            name = text[2:-1].split(".", 1)[0]
            return None if name.startswith("AWS::") else name
    return None



# ---- (d) structure -------------------------------------------------------------------------
def _on_failure_destinations(value: Any) -> Iterable[Any]:
    if isinstance(value, dict):
        on_failure = value.get("OnFailure")
        if isinstance(on_failure, dict) and "Destination" in on_failure:
            yield on_failure["Destination"]
        for child in value.values():
            yield from _on_failure_destinations(child)
    elif isinstance(value, list):
        for child in value:
            yield from _on_failure_destinations(child)


def dead_letter_queues(template: dict) -> set[str]:
    """Queues that are some queue's redrive target or some mapping's on-failure destination."""
    queues = resources_of(template, "AWS::SQS::Queue")
    targets = set()
    for queue in queues.values():
        policy = queue.get("Properties", {}).get("RedrivePolicy") or {}
        if isinstance(policy, dict) and referenced_id(policy.get("deadLetterTargetArn")) in queues:
            targets.add(referenced_id(policy["deadLetterTargetArn"]))
    for destination in _on_failure_destinations(template.get("Resources", {})):
        if referenced_id(destination) in queues:
            targets.add(referenced_id(destination))
    for logical_id, queue in queues.items():
        name = json.dumps(queue.get("Properties", {}).get("QueueName", "")).lower()
        if logical_id.endswith(("DeadLetterQueue", "DLQ", "Dlq")) or "-dlq" in name:
            targets.add(logical_id)
    return targets


@_timed
def check_table(template: dict) -> Check:
    check = Check("table: stream + TTL")
    tables = resources_of(template, "AWS::DynamoDB::Table")
    if not tables:
        check.problems.append("no AWS::DynamoDB::Table in the template")
    for logical_id, table in tables.items():
        properties = table.get("Properties", {})
        stream = properties.get("StreamSpecification")
        if not stream:
            check.problems.append(f"{logical_id} has no StreamSpecification (the outbox reads the stream)")
        elif stream.get("StreamViewType") not in ("NEW_IMAGE", "NEW_AND_OLD_IMAGES"):
            check.problems.append(f"{logical_id} stream view {stream.get('StreamViewType')} has no new image")
        ttl = properties.get("TimeToLiveSpecification")
        if not ttl:
            check.problems.append(f"{logical_id} has no TimeToLiveSpecification")
        elif ttl.get("Enabled") is not True or not ttl.get("AttributeName"):
            check.problems.append(f"{logical_id} TimeToLiveSpecification is not enabled with an attribute: {ttl}")
    check.summary = ", ".join(tables) or "none"
    return check


def custom_buses(template: dict) -> dict[str, dict]:
    return {k: v for k, v in resources_of(template, "AWS::Events::EventBus").items()
            if v.get("Properties", {}).get("Name") == STAGE_BUS_NAME}


@_timed
def check_event_bus(template: dict) -> Check:
    check = Check('event bus "oms-${Stage}"')
    buses = custom_buses(template)
    if not buses:
        names = [v.get("Properties", {}).get("Name") for v in resources_of(template, "AWS::Events::EventBus").values()]
        check.problems.append(f"no AWS::Events::EventBus named {STAGE_BUS_NAME} (buses: {names})")
    check.summary = ", ".join(buses)
    return check


@_timed
def check_queues(template: dict) -> Check:
    check = Check("queues: redrive to a DLQ")
    queues = resources_of(template, "AWS::SQS::Queue")
    dlqs = dead_letter_queues(template)
    consumers = [q for q in queues if q not in dlqs]
    for logical_id in consumers:
        policy = queues[logical_id].get("Properties", {}).get("RedrivePolicy")
        if not isinstance(policy, dict):
            check.problems.append(f"{logical_id} has no RedrivePolicy")
            continue
        target = referenced_id(policy.get("deadLetterTargetArn"))
        if target not in queues:
            check.problems.append(f"{logical_id} RedrivePolicy deadLetterTargetArn does not point at a queue "
                                  f"of this template: {policy.get('deadLetterTargetArn')}")
        if not policy.get("maxReceiveCount"):
            check.problems.append(f"{logical_id} RedrivePolicy has no maxReceiveCount")
    if not consumers:
        check.problems.append("no consumer queue in the template")
    check.summary = f"{len(consumers)} queues, {len(dlqs)} DLQs"
    return check


@_timed
def check_event_source_mappings(transformed: dict | None) -> Check:
    check = Check("mappings: ReportBatchItemFailures")
    if transformed is None:
        check.problems.append("not checked: the SAM transform failed")
        return check
    resources = transformed["Resources"]
    dlqs = dead_letter_queues(transformed)
    counted = {"sqs": 0, "dynamodb": 0}
    for logical_id, mapping in resources_of(transformed, "AWS::Lambda::EventSourceMapping").items():
        properties = mapping.get("Properties", {})
        source = properties.get("EventSourceArn")
        target = referenced_id(source)
        kind = {"AWS::SQS::Queue": "sqs", "AWS::DynamoDB::Table": "dynamodb"}.get(
            resources.get(target, {}).get("Type"))
        if kind is None:
            text = json.dumps(source)
            kind = "sqs" if ":sqs:" in text else "dynamodb" if ":dynamodb:" in text else None
            if kind:
                check.problems.append(f"{logical_id} reads {text}, not a resource of this template "
                                      "(did the merge template replace Chalice's event source?)")
        if kind is None:
            continue
        counted[kind] += 1
        if properties.get("FunctionResponseTypes") != ["ReportBatchItemFailures"]:
            check.problems.append(f"{logical_id} ({kind}) FunctionResponseTypes is "
                                  f"{properties.get('FunctionResponseTypes')}, not [ReportBatchItemFailures]")
        if kind == "sqs" and target in dlqs:
            check.problems.append(f"{logical_id} consumes the dead-letter queue {target}")
    if not any(counted.values()):
        check.problems.append("no SQS or DynamoDB event-source mapping in the transformed template")
    check.summary = f"{counted['sqs']} SQS, {counted['dynamodb']} DynamoDB"
    return check


@_timed
def check_rules(template: dict) -> Check:
    check = Check("rules to queues on the custom bus")
    resources = template.get("Resources", {})
    buses = custom_buses(template)
    to_queues = 0
    for logical_id, rule in resources_of(template, "AWS::Events::Rule").items():
        properties = rule.get("Properties", {})
        queues = [referenced_id(t.get("Arn")) for t in properties.get("Targets", [])]
        queues = [q for q in queues if resources.get(q, {}).get("Type") == "AWS::SQS::Queue"]
        if not queues:
            continue
        to_queues += 1
        bus = properties.get("EventBusName")
        if referenced_id(bus) not in buses:
            check.problems.append(f"{logical_id} (to {', '.join(queues)}) is on bus {bus or 'default'}, "
                                  f"not the custom bus {', '.join(buses) or '(none)'}")
    if not to_queues:
        check.problems.append("no rule delivers to a queue")
    check.summary = f"{to_queues} rules"
    return check



# ---- (e) analytics: routes, rule and tables agree with the code -----------------------------
def analytics_facts():
    """analytics.facts from the source tree (layers/), whatever sys.path the verifier has."""
    layers = str(ROOT / "layers")
    if layers not in sys.path:
        sys.path.append(layers)
    from analytics import facts

    return facts


def is_analytics_route(path: str) -> bool:
    return path.startswith("/analytics") or path == "/dashboard"


def integrated_function(uri: Any) -> str | None:
    """The function an API Gateway integration invokes: Sub ".../functions/${X.Arn}/invocations"."""
    text = uri.get("Fn::Sub") if isinstance(uri, dict) else None
    text = text[0] if isinstance(text, list) and text else text
    match = re.search(r"/functions/\$\{(\w+)\.Arn\}/invocations", text) if isinstance(text, str) else None
    return match.group(1) if match else None


@_timed
def check_api_routes(template: dict) -> Check:
    """Every analytics route to AnalyticsApiHandler (Chalice's app from analytics.zip, which API
    Gateway may invoke), every other route to APIHandler."""
    check = Check(f"routes: analytics to {ANALYTICS_API_HANDLER}")
    resources = template.get("Resources", {})
    paths = resources.get("RestAPI", {}).get("Properties", {}).get("DefinitionBody", {}).get("paths", {})
    counted = {API_HANDLER: 0, ANALYTICS_API_HANDLER: 0}
    for path, operations in paths.items():
        expected = ANALYTICS_API_HANDLER if is_analytics_route(path) else API_HANDLER
        for method, operation in operations.items():
            uri = operation.get("x-amazon-apigateway-integration", {}).get("uri")
            target = integrated_function(uri)
            if target == expected:
                counted[expected] += 1
            else:
                check.problems.append(f"{method.upper()} {path} invokes {target or json.dumps(uri)}, not {expected}")
    if not counted[ANALYTICS_API_HANDLER]:
        check.problems.append("no analytics route in the RestAPI")
    api = resources.get(API_HANDLER, {}).get("Properties", {})
    analytics = resources.get(ANALYTICS_API_HANDLER, {}).get("Properties")
    if analytics is None:
        check.problems.append(f"no {ANALYTICS_API_HANDLER} function")
    elif analytics.get("Handler") != api.get("Handler"):
        check.problems.append(f"{ANALYTICS_API_HANDLER} runs {analytics.get('Handler')}, "
                              f"not {API_HANDLER}'s {api.get('Handler')}")
    if not any(referenced_id(p.get("Properties", {}).get("FunctionName")) == ANALYTICS_API_HANDLER
               and p["Properties"].get("Principal") == "apigateway.amazonaws.com"
               for p in resources_of(template, "AWS::Lambda::Permission").values()):
        check.problems.append(f"no AWS::Lambda::Permission lets API Gateway invoke {ANALYTICS_API_HANDLER}")
    check.summary = (f"{counted[API_HANDLER]} methods to {API_HANDLER}, "
                     f"{counted[ANALYTICS_API_HANDLER]} to {ANALYTICS_API_HANDLER}")
    return check


@_timed
def check_analytics_rule(template: dict) -> Check:
    """The analytics rule sends exactly analytics.facts.EVENT_TYPES to the facts writer's queue."""
    check = Check("analytics rule: facts.EVENT_TYPES")
    resources = template.get("Resources", {})
    properties = resources.get(ANALYTICS_RULE, {}).get("Properties")
    if properties is None:
        check.problems.append(f"no {ANALYTICS_RULE} in the template")
        return check
    expected = list(analytics_facts().EVENT_TYPES)
    pattern = properties.get("EventPattern", {})
    listed = pattern.get("detail-type", [])
    missing, extra = [t for t in expected if t not in listed], [t for t in listed if t not in expected]
    if missing:
        check.problems.append(f"{ANALYTICS_RULE} misses detail-types of facts.EVENT_TYPES: {', '.join(missing)}")
    if extra:
        check.problems.append(f"{ANALYTICS_RULE} lists detail-types not in facts.EVENT_TYPES: {', '.join(extra)}")
    if len(set(listed)) != len(listed):
        check.problems.append(f"{ANALYTICS_RULE} lists a detail-type twice")
    if pattern.get("source") != ["oms"]:
        check.problems.append(f"{ANALYTICS_RULE} source is {pattern.get('source')}, not [oms]")
    writer = resources.get(FACTS_WRITER, {}).get("Properties", {}).get("Events", {})
    queues = {referenced_id(e.get("Properties", {}).get("Queue")) for e in writer.values()} - {None}
    targets = {referenced_id(t.get("Arn")) for t in properties.get("Targets", [])}
    if not queues or not queues <= targets:
        check.problems.append(f"{ANALYTICS_RULE} targets {sorted(targets - {None})}, not the queue "
                              f"{FACTS_WRITER} reads ({', '.join(sorted(queues)) or 'none'})")
    check.summary = f"{len(listed)} detail-types to {', '.join(sorted(targets - {None}))}"
    return check


@_timed
def check_glue_tables(template: dict) -> Check:
    """One Glue table per analytics.facts.TABLES entry: its columns in order, Glue-typed, and
    partitioned by dt, projected onto the writer's facts/<table>/dt=YYYY-MM-DD/ prefixes."""
    check = Check("Glue tables: facts.TABLES")
    tables = {}
    for logical_id, resource in resources_of(template, "AWS::Glue::Table").items():
        table_input = resource.get("Properties", {}).get("TableInput", {})
        tables[table_input.get("Name")] = (logical_id, table_input)
    expected_tables = analytics_facts().TABLES
    for name, columns in expected_tables.items():
        if name not in tables:
            check.problems.append(f"no AWS::Glue::Table named {name}")
            continue
        logical_id, table_input = tables[name]
        storage = table_input.get("StorageDescriptor", {})
        declared = [(c.get("Name"), c.get("Type")) for c in storage.get("Columns", [])]
        expected = [(column, GLUE_TYPES.get(kind, f"(no Glue type for {kind})")) for column, kind in columns]
        if declared != expected:
            first = next((i for i, pair in enumerate(zip(declared, expected, strict=False)) if pair[0] != pair[1]),
                         min(len(declared), len(expected)))
            check.problems.append(f"{logical_id} ({name}) columns differ from facts.TABLES from column {first}: "
                                  f"{declared[first:first + 3]} declared, {expected[first:first + 3]} expected")
        if table_input.get("PartitionKeys") != [{"Name": "dt", "Type": "date"}]:
            check.problems.append(f"{logical_id} PartitionKeys is {table_input.get('PartitionKeys')}, not dt date")
        parameters = table_input.get("Parameters", {})
        location = json.dumps(storage.get("Location"))
        projected = json.dumps(parameters.get("storage.location.template"))
        if f"/facts/{name}/" not in location:
            check.problems.append(f"{logical_id} Location {location} is not the facts/{name}/ prefix")
        if parameters.get("projection.enabled") != "true" or f"/facts/{name}/dt=${{!dt}}" not in projected:
            check.problems.append(f"{logical_id} does not project dt onto facts/{name}/dt=${{dt}} "
                                  "(inside !Sub, written ${!dt})")
    extra = sorted(set(tables) - set(expected_tables), key=str)
    if extra:
        check.problems.append(f"Glue tables not in facts.TABLES: {', '.join(map(str, extra))}")
    check.summary = f"{len(tables)} tables"
    return check
