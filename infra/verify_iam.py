"""The IAM half of the template checks: infra.verify_package runs them on build/sam.yaml,
tests/unit/test_template_iam.py on template.yaml merged over Chalice's functions, and
tests/integration/test_least_privilege.py replays the handlers' real AWS calls against the roles.

  roles        every function runs as a role of this template that no other function shares,
               which only Lambda may assume, whose managed policies are this template's own, and
               which writes logs to the function's own log group (its LoggingConfig) only.
  privilege    no action wildcard, no service outside the ones the code calls, a "*" resource
               only for actions that take none, secrets only under oms/${Stage}/.
  sources      each function's role lets its event-source mappings read what they read: its
               queue, the table's stream (and the stream's on-failure queue).
  encryption   every queue (SSE-SQS or KMS), log group (KMS) and bucket is encrypted; every
               checkov check the template skips says why (checkov runs in `make checkov`).

A policy's resources are compared as text: !GetAtt X.Arn is "${X.Arn}", !Ref X is "${X}",
!Sub "..." its text, so "${OmsTable.Arn}/index/*" matches what it says and nothing else.
"""
from __future__ import annotations

import fnmatch
from typing import Any

from .verify_template import Check, _timed, referenced_id, resources_of

SERVICES = ("logs", "xray", "dynamodb", "sqs", "events", "s3", "ses", "secretsmanager", "athena", "glue")
NO_RESOURCE_ACTIONS = {"xray:PutTraceSegments", "xray:PutTelemetryRecords", "dynamodb:ListStreams", "sqs:ListQueues"}
SECRETS_OF_THE_STAGE = ":secret:oms/${Stage}/"
LAMBDA_TRUST = [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]
SQS_MAPPING = ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes")
STREAM_MAPPING = ("dynamodb:DescribeStream", "dynamodb:GetShardIterator", "dynamodb:GetRecords", "dynamodb:ListStreams")
LOG_WRITES = ("logs:CreateLogStream", "logs:PutLogEvents")


def as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def text_of(value: Any) -> str | None:
    """A resource as text: "${X.Arn}" for !GetAtt X.Arn, "${X}" for !Ref X, a Sub's text."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and len(value) == 1:
        (function, argument), = value.items()
        if function == "Ref" and isinstance(argument, str):
            return "${" + argument + "}"
        if function == "Fn::GetAtt":
            parts = argument.split(".", 1) if isinstance(argument, str) else argument
            return "${" + ".".join(parts) + "}"
        if function == "Fn::Sub":
            text = argument[0] if isinstance(argument, list) else argument
            return text if isinstance(text, str) else None
    return None


def functions_of(template: dict) -> dict[str, dict]:
    return resources_of(template, "AWS::Serverless::Function")


def function_role(template: dict, function: dict) -> Any:
    default = template.get("Globals", {}).get("Function", {}).get("Role")
    return function.get("Properties", {}).get("Role", default)


def _statements(document: Any) -> list[dict]:
    found = document.get("Statement", []) if isinstance(document, dict) else []
    return [found] if isinstance(found, dict) else [s for s in found if isinstance(s, dict)]


def role_statements(template: dict, role_id: str | None) -> list[dict]:
    """Every statement of a role: its inline policies, this template's managed policies it
    lists, and this template's AWS::IAM::Policy resources attached to it."""
    resources = template.get("Resources", {})
    properties = resources.get(role_id, {}).get("Properties", {}) if role_id else {}
    found = [s for policy in properties.get("Policies") or [] for s in _statements(policy.get("PolicyDocument"))]
    for arn in properties.get("ManagedPolicyArns") or []:
        managed = resources.get(referenced_id(arn), {})
        if managed.get("Type") == "AWS::IAM::ManagedPolicy":
            found += _statements(managed.get("Properties", {}).get("PolicyDocument"))
    for policy in resources_of(template, "AWS::IAM::Policy").values():
        if {"Ref": role_id} in as_list(policy.get("Properties", {}).get("Roles")):
            found += _statements(policy["Properties"].get("PolicyDocument"))
    return found


def allows(statements: list[dict], action: str, resource: Any) -> bool:
    """An Allow statement names the action (wildcards honoured) on the resource (as text)."""
    target = text_of(resource)
    for statement in statements:
        if statement.get("Effect") != "Allow" or "Condition" in statement:
            continue
        if not any(fnmatch.fnmatchcase(action.lower(), str(a).lower()) for a in as_list(statement.get("Action"))):
            continue
        for pattern in (text_of(r) for r in as_list(statement.get("Resource"))):
            if pattern == "*" or (pattern is not None and target is not None and fnmatch.fnmatchcase(target, pattern)):
                return True
    return False


# ---- roles ---------------------------------------------------------------------------------------
@_timed
def check_function_roles(template: dict) -> Check:
    """One role per function, assumed by Lambda only, its managed policies this template's own,
    and its logs in the function's own log group."""
    check = Check("IAM: a role of its own per function")
    resources = template.get("Resources", {})
    roles = resources_of(template, "AWS::IAM::Role")
    used: dict[str, str] = {}
    groups: dict[str, str] = {}
    for logical_id, function in sorted(functions_of(template).items()):
        role = referenced_id(function_role(template, function))
        if role not in roles:
            check.problems.append(f"{logical_id} runs as {function_role(template, function)}, not a role of this "
                                  "template (give it its own role in template.yaml)")
            continue
        if role in used:
            check.problems.append(f"{logical_id} shares {role} with {used[role]}")
        used[role] = logical_id
        statements = role_statements(template, role)
        group = referenced_id(((function.get("Properties") or {}).get("LoggingConfig") or {}).get("LogGroup"))
        if resources.get(group, {}).get("Type") != "AWS::Logs::LogGroup":
            check.problems.append(f"{logical_id} has no LoggingConfig.LogGroup of this template (its role could "
                                  "not be kept to one log group)")
        else:
            if group in groups:
                check.problems.append(f"{logical_id} logs to {group}, as {groups[group]} does")
            groups[group] = logical_id
            if "RetentionInDays" not in resources[group].get("Properties", {}):
                check.problems.append(f"{group} keeps logs forever (RetentionInDays)")
            for action in LOG_WRITES:
                if not allows(statements, action, {"Fn::GetAtt": [group, "Arn"]}):
                    check.problems.append(f"{role} may not {action} to {group}")
        for statement in statements:
            if any(str(a).startswith("logs:") for a in as_list(statement.get("Action"))) and any(
                    text_of(r) != "${" + f"{group}.Arn" + "}" for r in as_list(statement.get("Resource"))):
                check.problems.append(f"{role} writes logs beyond {group}: {statement.get('Resource')}")
    for role_id, role in sorted(roles.items()):
        if role_id not in used:
            check.problems.append(f"{role_id} is no function's role")
        properties = role.get("Properties", {})
        if _statements(properties.get("AssumeRolePolicyDocument")) != LAMBDA_TRUST:
            check.problems.append(f"{role_id} may be assumed by more than Lambda: "
                                  f"{properties.get('AssumeRolePolicyDocument')}")
        for arn in properties.get("ManagedPolicyArns") or []:
            if resources.get(referenced_id(arn), {}).get("Type") != "AWS::IAM::ManagedPolicy":
                check.problems.append(f"{role_id} attaches {arn}, not a managed policy of this template")
    check.summary = f"{len(used)} roles"
    return check


# ---- privilege -----------------------------------------------------------------------------------
@_timed
def check_least_privilege(template: dict) -> Check:
    """Every statement of every role: named actions of the services the code calls, a resource
    for each action that takes one, secrets of the stage only."""
    check = Check("IAM: least privilege")
    counted = 0
    for role_id in sorted(resources_of(template, "AWS::IAM::Role")):
        for statement in role_statements(template, role_id):
            counted += 1
            where = f"{role_id} {statement.get('Sid') or ''}".strip()
            if "NotAction" in statement or "NotResource" in statement:
                check.problems.append(f"{where}: NotAction/NotResource grants everything else")
            if statement.get("Effect") != "Allow":
                continue
            actions = [str(a) for a in as_list(statement.get("Action"))]
            resources = [text_of(r) for r in as_list(statement.get("Resource"))]
            for action in actions:
                if "*" in action or "?" in action:
                    check.problems.append(f"{where}: action wildcard {action}")
                if action.split(":", 1)[0] not in SERVICES:
                    check.problems.append(f"{where}: {action} is of no service the code calls ({', '.join(SERVICES)})")
            if "*" in resources:
                wide = [a for a in actions if a not in NO_RESOURCE_ACTIONS]
                if wide:
                    check.problems.append(f"{where}: {', '.join(wide)} on every resource (\"*\")")
            if None in resources:
                check.problems.append(f"{where}: a resource that is no ARN, !GetAtt, !Ref or !Sub")
            for action in actions:
                if action.startswith("secretsmanager:"):
                    outside = [r for r in resources if not r or SECRETS_OF_THE_STAGE not in r]
                    if outside:
                        check.problems.append(f"{where}: {action} on {outside}, not under oms/${{Stage}}/")
    if not counted:
        check.problems.append("no role statement in the template")
    check.summary = f"{counted} statements"
    return check


# ---- event sources ---------------------------------------------------------------------------------
def _on_failure(properties: dict) -> Any:
    return ((properties.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination")


@_timed
def check_event_source_permissions(template: dict) -> Check:
    """Each mapping's queue or stream (and on-failure destination) is readable by its function's role."""
    check = Check("IAM: event sources readable")
    counted = 0
    for logical_id, function in sorted(functions_of(template).items()):
        statements = role_statements(template, referenced_id(function_role(template, function)))
        for name, event in ((function.get("Properties") or {}).get("Events") or {}).items():
            properties = event.get("Properties") or {}
            if event.get("Type") == "SQS":
                needed = [(a, properties.get("Queue")) for a in SQS_MAPPING]
            elif event.get("Type") == "DynamoDB":
                needed = [(a, properties.get("Stream")) for a in STREAM_MAPPING]
                if _on_failure(properties) is not None:
                    needed.append(("sqs:SendMessage", _on_failure(properties)))
            else:
                continue
            counted += 1
            for action, resource in needed:
                if not allows(statements, action, resource):
                    check.problems.append(f"{logical_id} ({name}) may not {action} on {text_of(resource)}")
    if not counted:
        check.problems.append("no SQS or DynamoDB event source in the template")
    check.summary = f"{counted} event sources"
    return check


# ---- encryption, and checkov's skips ---------------------------------------------------------------
@_timed
def check_encryption(template: dict) -> Check:
    """Queues (checkov reads only KmsMasterKeyId, so SSE-SQS is checked here), log groups, buckets."""
    check = Check("encryption: queues, log groups, buckets")
    counted = 0
    for logical_id, queue in sorted(resources_of(template, "AWS::SQS::Queue").items()):
        properties = queue.get("Properties", {})
        counted += 1
        if properties.get("SqsManagedSseEnabled") is not True and not properties.get("KmsMasterKeyId"):
            check.problems.append(f"{logical_id} is not encrypted (SqsManagedSseEnabled or KmsMasterKeyId)")
    for logical_id, group in sorted(resources_of(template, "AWS::Logs::LogGroup").items()):
        counted += 1
        if not group.get("Properties", {}).get("KmsKeyId"):
            check.problems.append(f"{logical_id} is not encrypted with the stack's key (KmsKeyId)")
    for logical_id, bucket in sorted(resources_of(template, "AWS::S3::Bucket").items()):
        counted += 1
        if not bucket.get("Properties", {}).get("BucketEncryption"):
            check.problems.append(f"{logical_id} has no BucketEncryption")
    check.summary = f"{counted} resources"
    return check


@_timed
def check_checkov_skips(template: dict) -> Check:
    """Every `Metadata: checkov: skip:` entry names a check and gives its reason."""
    check = Check("checkov skips give their reasons")
    counted = 0
    for logical_id, resource in sorted(template.get("Resources", {}).items()):
        skips = ((resource.get("Metadata") or {}).get("checkov") or {}).get("skip") or []
        for skip in skips:
            counted += 1
            if not isinstance(skip, dict) or not str(skip.get("id", "")).startswith("CKV"):
                check.problems.append(f"{logical_id} skips {skip}: not {{id: CKV_..., comment: ...}}")
            elif len(str(skip.get("comment") or "").split()) < 4:
                check.problems.append(f"{logical_id} skips {skip['id']} without saying why (comment)")
    check.summary = f"{counted} skips"
    return check


def checks(template: dict) -> list[Check]:
    return [check_function_roles(template), check_least_privilege(template), check_event_source_permissions(template),
            check_encryption(template), check_checkov_skips(template)]
