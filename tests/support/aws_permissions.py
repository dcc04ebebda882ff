"""Which AWS calls each Lambda function really makes, and whether its role in the packaged
template allows them.

The recorder wraps botocore's BaseClient._make_api_call (boto3's and PynamoDB's clients) and
the secret lookups (oms.adapters.secrets, answered from the environment as in local mode but
recorded as the GetSecretValue they are in AWS), and names the function a call belongs to from
the call stack: app.py's handler or the handler body it delegates to, the ops-token authorizer,
an analytics route (AnalyticsApiHandler) or any other route (APIHandler). Calls outside a
handler (the local runner's polling, a test's own setup) are not recorded.

Each call becomes the IAM actions and resource ARNs AWS would authorise (a transaction the
item actions of its parts, a batch the action of each item, a queue URL the queue's ARN), and
each is evaluated against the statements of the function's role, their resources resolved for
the test stack (stage "test", moto's account). An operation without a mapping is reported too.

As a pytest plugin (`-p tests.support.aws_permissions`, OMS_AWS_CALLS=<file>) it records a whole
run and writes the calls as JSON lines; tests/integration/test_least_privilege.py runs
integration tests that way and checks what they recorded.
"""
from __future__ import annotations

import ast
import json
import os
import re
import sys
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
REGION, ACCOUNT, STAGE = "us-east-1", "123456789012", "test"
SECRET_SUFFIX = "-AbCdEf"  # what Secrets Manager appends to a secret's name in its ARN
ANALYTICS_ROUTES = ROOT / "functions" / "api" / "analytics_api.py"
API_ROUTES = str(ROOT / "functions" / "api") + os.sep
AUTHORIZER = "ops_token_authorizer"


@dataclass
class Call:
    function: str
    service: str
    operation: str
    params: dict


# ---- which function a call belongs to ----------------------------------------------------------
def _camel(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in name.split("_"))


def handler_frames() -> dict[tuple[str, str], str]:
    """(file, function) -> the function's logical id, for app.py's event handlers and the bodies
    they delegate to (`from functions.x import y as body`), read from app.py's source."""
    app = ROOT / "app.py"
    found: dict[tuple[str, str], str] = {}
    for node in ast.parse(app.read_text()).body:
        if not isinstance(node, ast.FunctionDef) or not node.decorator_list:
            continue
        logical_id = _camel(node.name)
        found[(str(app), node.name)] = logical_id
        for statement in ast.walk(node):
            if isinstance(statement, ast.ImportFrom) and (statement.module or "").startswith("functions."):
                module = ROOT.joinpath(*statement.module.split(".")).with_suffix(".py")
                for alias in statement.names:
                    found[(str(module), alias.name)] = logical_id
    return found


class Attribution:
    def __init__(self):
        self.handlers = handler_frames()

    def function(self, frame) -> str | None:
        """The innermost frame that says which function runs."""
        while frame is not None:
            code = frame.f_code
            filename = code.co_filename
            if (filename, code.co_name) in self.handlers:
                return self.handlers[(filename, code.co_name)]
            if code.co_name == AUTHORIZER and filename.startswith(API_ROUTES):
                return "OpsTokenAuthorizer"
            if filename == str(ANALYTICS_ROUTES):
                return "AnalyticsApiHandler"
            if filename.startswith(API_ROUTES):
                return "APIHandler"
            frame = frame.f_back
        return None


# ---- recording -----------------------------------------------------------------------------------
# Secret names (as in AWS) -> the environment variable the local mode reads instead.
SECRET_ENVIRONMENT = [
    (r"webhooks/(\w+)/(\w+)", lambda m: f"OMS_WEBHOOK_SECRET_{m[1].upper()}_{m[2].upper()}"),
    (r"ops-token", lambda m: "OMS_OPS_TOKEN"),
    (r"channels/(\w+)/token", lambda m: f"OMS_CHANNEL_TOKEN_{m[1].upper()}"),
    (r"payments/(\w+)/api-key", lambda m: f"OMS_{m[1].upper()}_API_KEY"),
    (r"carriers/(\w+)/api-key", lambda m: f"OMS_{m[1].upper()}_API_KEY"),
    (r"customers/token-secret", lambda m: "OMS_CUSTOMER_TOKEN_SECRET"),
    (r"analytics/customer-key", lambda m: "OMS_ANALYTICS_CUSTOMER_KEY"),
]


class Recorder:
    def __init__(self):
        self.attribution = Attribution()
        self.calls: list[Call] = []
        self.lock = threading.Lock()
        self._undo: list = []

    def record(self, frame, service: str, operation: str, params: dict) -> None:
        function = self.attribution.function(frame)
        if function:
            with self.lock:
                self.calls.append(Call(function, service, operation, _plain(params)))

    def install(self) -> Recorder:
        from botocore.client import BaseClient

        from oms.adapters import secrets

        recorder = self
        original_call = BaseClient._make_api_call

        def _make_api_call(client, operation_name, api_params):
            recorder.record(sys._getframe(1), client.meta.service_model.service_name, operation_name, api_params)
            return original_call(client, operation_name, api_params)

        def from_secrets_manager(secret_id: str) -> str:
            recorder.record(sys._getframe(1), "secretsmanager", "GetSecretValue", {"SecretId": secret_id})
            name = secret_id.split("/", 2)[2]
            for pattern, variable in SECRET_ENVIRONMENT:
                if match := re.fullmatch(pattern, name):
                    return secrets._from_env(variable(match))
            raise AssertionError(f"no local environment variable for the secret {secret_id}: extend SECRET_ENVIRONMENT")

        originals = (original_call, secrets._local, secrets._from_secrets_manager)
        BaseClient._make_api_call = _make_api_call
        secrets._local = lambda: False
        secrets._from_secrets_manager = from_secrets_manager
        self._undo.append(lambda: (setattr(BaseClient, "_make_api_call", originals[0]),
                                   setattr(secrets, "_local", originals[1]),
                                   setattr(secrets, "_from_secrets_manager", originals[2])))
        return self

    def uninstall(self) -> None:
        while self._undo:
            self._undo.pop()()


def _plain(value: Any) -> Any:
    """Params as JSON can carry them (bodies and binary attribute values dropped)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if k not in ("Body", "MessageBody")}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, bytes | bytearray):
        return "<bytes>"
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


# ---- a call as IAM sees it ---------------------------------------------------------------------
def queue_arn(url_or_name: str) -> str:
    return f"arn:aws:sqs:{REGION}:{ACCOUNT}:{url_or_name.rstrip('/').rsplit('/', 1)[-1]}"


def table_arn(name: str) -> str:
    return name if name.startswith("arn:") else f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{name}"


def _bus_arn(name: str | None) -> str:
    name = name or "default"
    return name if name.startswith("arn:") else f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/{name}"


def _address(value: str) -> str:
    match = re.search(r"<([^>]+)>", value)
    return match.group(1) if match else value.strip()


S3_OBJECT_ACTIONS = {"GetObject": "s3:GetObject", "HeadObject": "s3:GetObject", "PutObject": "s3:PutObject",
                     "CreateMultipartUpload": "s3:PutObject", "UploadPart": "s3:PutObject",
                     "CompleteMultipartUpload": "s3:PutObject", "AbortMultipartUpload": "s3:AbortMultipartUpload",
                     "DeleteObject": "s3:DeleteObject"}
SQS_ACTIONS = {"SendMessageBatch": "SendMessage", "DeleteMessageBatch": "DeleteMessage",
               "ChangeMessageVisibilityBatch": "ChangeMessageVisibility"}
TRANSACTION_PARTS = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem",
                     "ConditionCheck": "ConditionCheckItem", "Get": "GetItem"}


def permissions(call: Call, last_stream: dict[str, str] | None = None) -> list[tuple[str, str]]:
    """The (action, resource ARN) pairs AWS authorises for the call; [] for an unknown operation."""
    p, op, service = call.params, call.operation, call.service
    if service == "dynamodb":
        if op in ("GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "Scan", "DescribeTable"):
            arn = table_arn(p["TableName"])
            return [(f"dynamodb:{op}", f"{arn}/index/{p['IndexName']}" if p.get("IndexName") else arn)]
        if op in ("BatchGetItem", "BatchWriteItem"):
            return [(f"dynamodb:{op}", table_arn(table)) for table in p.get("RequestItems", {})]
        if op in ("TransactWriteItems", "TransactGetItems"):
            return [(f"dynamodb:{TRANSACTION_PARTS[kind]}", table_arn(part["TableName"]))
                    for item in p.get("TransactItems", []) for kind, part in item.items()]
    if service == "dynamodbstreams":
        if op == "ListStreams":
            return [("dynamodb:ListStreams", "*")]
        if op in ("DescribeStream", "GetShardIterator"):
            if last_stream is not None:
                last_stream[call.function] = p["StreamArn"]
            return [(f"dynamodb:{op}", p["StreamArn"])]
        if op == "GetRecords":
            return [("dynamodb:GetRecords", (last_stream or {}).get(call.function, "(a stream never described)"))]
    if service == "sqs":
        if op == "ListQueues":
            return [("sqs:ListQueues", "*")]
        if op == "GetQueueUrl":
            return [("sqs:GetQueueUrl", queue_arn(p["QueueName"]))]
        if op in ("StartMessageMoveTask", "ListMessageMoveTasks"):
            found = [(f"sqs:{op}", p["SourceArn"])]
            if op == "StartMessageMoveTask":
                found += [(f"sqs:{action}", p["SourceArn"])
                          for action in ("ReceiveMessage", "DeleteMessage", "GetQueueAttributes")]
                if p.get("DestinationArn"):
                    found.append(("sqs:SendMessage", p["DestinationArn"]))
            return found
        if "QueueUrl" in p:
            return [(f"sqs:{SQS_ACTIONS.get(op, op)}", queue_arn(p["QueueUrl"]))]
    if service == "events" and op == "PutEvents":
        return sorted({("events:PutEvents", _bus_arn(entry.get("EventBusName"))) for entry in p.get("Entries", [])})
    if service == "s3":
        if op in S3_OBJECT_ACTIONS:
            return [(S3_OBJECT_ACTIONS[op], f"arn:aws:s3:::{p['Bucket']}/{p['Key']}")]
        if op in ("ListObjectsV2", "ListObjects"):
            return [("s3:ListBucket", f"arn:aws:s3:::{p['Bucket']}")]
        if op == "GetBucketLocation":
            return [("s3:GetBucketLocation", f"arn:aws:s3:::{p['Bucket']}")]
        if op == "DeleteObjects":
            return [("s3:DeleteObject", f"arn:aws:s3:::{p['Bucket']}/{o['Key']}") for o in p["Delete"]["Objects"]]
    if service == "sesv2" and op == "SendEmail":
        return [("ses:SendEmail", f"arn:aws:ses:{REGION}:{ACCOUNT}:identity/{_address(p['FromEmailAddress'])}")]
    if service == "secretsmanager" and op == "GetSecretValue":
        return [("secretsmanager:GetSecretValue",
                 f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:{p['SecretId']}{SECRET_SUFFIX}")]
    if service == "athena" and op in ("StartQueryExecution", "GetQueryExecution", "GetQueryResults",
                                      "StopQueryExecution"):
        workgroup = p.get("WorkGroup") or os.environ.get("OMS_ATHENA_WORKGROUP", "primary")
        return [(f"athena:{op}", f"arn:aws:athena:{REGION}:{ACCOUNT}:workgroup/{workgroup}")]
    return []


# ---- the roles, resolved for the test stack ------------------------------------------------------
def resolver_for(template: dict, stage: str = STAGE, mail_from: str | None = None):
    """infra.cfn.Resolver with the ARNs and names the template's resources get in the test stack."""
    from infra.cfn import Resolver

    parameters = {name: str(p.get("Default", "")) for name, p in template.get("Parameters", {}).items()}
    parameters.update(Stage=stage, MailFrom=mail_from or os.environ.get("OMS_MAIL_FROM") or parameters["MailFrom"])
    resolver = Resolver(parameters, {"AWS::Region": REGION, "AWS::AccountId": ACCOUNT, "AWS::Partition": "aws",
                                     "AWS::URLSuffix": "amazonaws.com", "AWS::StackName": f"oms-{stage}"})
    for logical_id, resource in template["Resources"].items():
        properties, kind = resource.get("Properties", {}), resource["Type"]
        name_of = {"AWS::SQS::Queue": "QueueName", "AWS::DynamoDB::Table": "TableName",
                   "AWS::Events::EventBus": "Name", "AWS::S3::Bucket": "BucketName",
                   "AWS::Logs::LogGroup": "LogGroupName", "AWS::Athena::WorkGroup": "Name"}.get(kind)
        if name_of and name_of in properties:
            name = resolver.resolve(properties[name_of])
            resolver.refs[logical_id] = name
            arn = {"AWS::SQS::Queue": queue_arn(name), "AWS::DynamoDB::Table": table_arn(name),
                   "AWS::Events::EventBus": _bus_arn(name), "AWS::S3::Bucket": f"arn:aws:s3:::{name}",
                   "AWS::Logs::LogGroup": f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{name}:*",
                   "AWS::Athena::WorkGroup": f"arn:aws:athena:{REGION}:{ACCOUNT}:workgroup/{name}"}[kind]
            resolver.attributes[(logical_id, "Arn")] = arn
            if kind == "AWS::SQS::Queue":
                resolver.attributes[(logical_id, "QueueName")] = name
            if kind == "AWS::DynamoDB::Table":
                resolver.attributes[(logical_id, "StreamArn")] = f"{arn}/stream/*"  # moto labels it with a time
        elif kind == "AWS::Glue::Database":
            resolver.refs[logical_id] = resolver.resolve(properties["DatabaseInput"]["Name"])
    return resolver


def _pattern(arn_pattern: str) -> re.Pattern:
    return re.compile("".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in arn_pattern))


def role_grants(template: dict, resolver) -> dict[str, list[tuple[re.Pattern, re.Pattern]]]:
    """function -> (action pattern, resource pattern) of every Allow statement of its role."""
    from infra import verify_iam as vi

    grants = {}
    for logical_id, function in vi.functions_of(template).items():
        role = vi.referenced_id(vi.function_role(template, function))
        pairs = []
        for statement in vi.role_statements(template, role):
            if statement.get("Effect") != "Allow" or "Condition" in statement:
                continue
            for action in vi.as_list(statement.get("Action")):
                for resource in vi.as_list(statement.get("Resource")):
                    pairs.append((re.compile(_pattern(str(action)).pattern, re.IGNORECASE),
                                  _pattern(str(resolver.resolve(resource)))))
        grants[logical_id] = pairs
    return grants


def denied(calls: list[Call], template: dict, resolver=None) -> list[str]:
    """What the functions called that their roles do not allow (and what cannot be told)."""
    grants = role_grants(template, resolver or resolver_for(template))
    problems, last_stream = set(), {}
    for call in calls:
        needed = permissions(call, last_stream)
        if not needed:
            problems.add(f"{call.function}: {call.service}.{call.operation} has no IAM mapping in "
                         "tests/support/aws_permissions.permissions")
        if call.function not in grants:
            problems.add(f"{call.function}: no such function in the template")
            continue
        for action, arn in needed:
            if not any(a.fullmatch(action) and r.fullmatch(arn) for a, r in grants[call.function]):
                problems.add(f"{call.function} may not {action} on {arn} ({call.service}.{call.operation})")
    return sorted(problems)


def read_calls(path: Path) -> list[Call]:
    return [Call(**json.loads(line)) for line in Path(path).read_text().splitlines() if line.strip()]


# ---- as a pytest plugin --------------------------------------------------------------------------
_RECORDER: Recorder | None = None


def pytest_configure(config):
    global _RECORDER
    _RECORDER = Recorder().install()


def pytest_unconfigure(config):
    target = os.environ.get("OMS_AWS_CALLS")
    if _RECORDER is None:
        return
    _RECORDER.uninstall()
    if target:
        worker = os.environ.get("PYTEST_XDIST_WORKER")
        path = Path(f"{target}.{worker}" if worker else target)
        path.write_text("".join(json.dumps(asdict(call)) + "\n" for call in _RECORDER.calls))


def main(paths: list[str]) -> int:
    """`python -m tests.support.aws_permissions <calls.jsonl>...`: what the roles do not allow."""
    from tests.support.chalice_template import packaged_template

    calls = [call for path in paths for call in read_calls(Path(path))]
    template = packaged_template()
    problems = denied(calls, template, resolver_for(template, mail_from=os.environ.get("OMS_MAIL_FROM")))
    functions = sorted({call.function for call in calls})
    print(f"{len(calls)} AWS calls of {len(functions)} functions ({', '.join(functions)})")
    print("\n".join(problems) or "every call is allowed by its function's role")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
