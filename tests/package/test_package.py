"""The Lambda artefact itself: `make package` builds build/sam.yaml + build/deployment.zip and
runs infra.verify_package on them. Each of the verifier's checks also runs here as its own
test, so a failure names the problem; and the checks are shown to fail on broken inputs."""
from __future__ import annotations

import copy
import os
import subprocess
import zipfile
from pathlib import Path

import pytest

from infra import verify_package as vp

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / "build"


@pytest.fixture(scope="session")
def make_package() -> subprocess.CompletedProcess:
    """`make package`, once per session (chalice package, then the verifier)."""
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS")}
    return subprocess.run(["make", "package"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)


def _output(done: subprocess.CompletedProcess) -> str:
    return f"--- stdout ---\n{done.stdout[-6000:]}\n--- stderr ---\n{done.stderr[-6000:]}"


@pytest.fixture(scope="session")
def build(make_package) -> Path:
    for name in ("sam.yaml", "deployment.zip"):
        assert (BUILD / name).is_file(), f"`make package` did not write build/{name}\n{_output(make_package)}"
    return BUILD


@pytest.fixture(scope="session")
def unzipped(build, tmp_path_factory) -> Path:
    """The artefact as Lambda sees it in /var/task (extracted once for the import tests)."""
    return vp.extract(build / "deployment.zip", tmp_path_factory.mktemp("package") / "task")


@pytest.fixture(scope="session")
def template(build) -> dict:
    return vp.load_template(build / "sam.yaml")


@pytest.fixture(scope="session")
def handlers(template) -> list[str]:
    return vp.handlers_of(template)


@pytest.fixture(scope="session")
def transformed(template) -> dict:
    return vp.translate(template)


def _problems(check: vp.Check) -> str:
    return f"{check.name}: " + "\n  ".join(["", *check.problems])


# ---- the whole verifier, as `make package` runs it ---------------------------------------------
def test_make_package_builds_and_the_verifier_passes(make_package):
    assert make_package.returncode == 0, f"`make package` failed\n{_output(make_package)}"
    assert "package verification passed" in make_package.stdout
    assert "FAIL" not in make_package.stdout


# ---- (a) imports in a clean interpreter --------------------------------------------------------
def test_template_names_every_handler_app_declares(handlers):
    import app

    expected = {"app.app"} | {f"app.{source.name}" for source in app.app.event_sources}
    assert expected <= set(handlers), f"handlers missing from the template: {expected - set(handlers)}"
    assert "functions.api.ops.ops_token_authorizer" in handlers


def test_every_handler_imports_in_a_clean_interpreter(unzipped, handlers):
    check = vp.check_unzipped_imports(unzipped, handlers, modules=(), sweep_own_code=False)
    assert check.ok, _problems(check)


@pytest.mark.parametrize("module", vp.LAZY_MODULES)
def test_lazily_imported_handler_body_imports_in_a_clean_interpreter(unzipped, module):
    check = vp.check_unzipped_imports(unzipped, [], modules=[module], sweep_own_code=False)
    assert check.ok, _problems(check)


def test_runtime_dependencies_are_in_the_zip(unzipped):
    check = vp.check_unzipped_imports(unzipped, [], modules=vp.RUNTIME_MODULES, sweep_own_code=False)
    assert check.ok, _problems(check)


def test_every_module_of_our_code_in_the_zip_imports(unzipped):
    for package in vp.OWN_PACKAGES:
        assert (unzipped / package / "__init__.py").is_file(), f"{package}/ is not in the zip (vendor/ symlink?)"
    check = vp.check_unzipped_imports(unzipped, [], modules=())
    assert check.ok, _problems(check)


def test_import_check_fails_for_a_zip_without_oms(build, handlers, tmp_path):
    """The check can fail: the same zip minus oms/ (the layer hoisted through vendor/)."""
    broken = tmp_path / "deployment.zip"
    with zipfile.ZipFile(build / "deployment.zip") as source, \
            zipfile.ZipFile(broken, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            if not info.filename.startswith("oms/"):
                target.writestr(info, source.read(info))
    check = vp.check_imports(broken, handlers)
    assert not check.ok
    failing = {p.split(":", 1)[0] for p in check.problems if "No module named 'oms'" in p}
    assert {"oms.bootstrap", "oms.services.canonical"} <= failing, check.problems


def test_import_check_does_not_see_the_projects_site_packages(unzipped):
    """Modules that exist only in the dev venv (pytest, moto) must not be importable by the check."""
    check = vp.check_unzipped_imports(unzipped, [], modules=["pytest", "moto"], sweep_own_code=False)
    assert len(check.problems) == 2, check.problems


# ---- (b) cfn-lint, (c) SAM translator ----------------------------------------------------------
def test_cfn_lint_reports_no_errors(build):
    check = vp.check_cfn_lint(build / "sam.yaml")
    assert check.ok, _problems(check)


def test_sam_translator_transforms_the_template(template):
    check, transformed = vp.check_sam_translate(template)
    assert check.ok, _problems(check)
    functions = vp.resources_of(transformed, "AWS::Lambda::Function")
    assert all(f["Properties"]["Code"] == {"S3Bucket": "bucket", "S3Key": "deployment.zip"}
               for f in functions.values())


# ---- (d) structure ------------------------------------------------------------------------------
def test_table_has_stream_and_ttl(transformed):
    check = vp.check_table(transformed)
    assert check.ok, _problems(check)


def test_custom_event_bus_named_by_stage(transformed):
    check = vp.check_event_bus(transformed)
    assert check.ok, _problems(check)


def test_every_consumer_queue_redrives_to_a_dlq(transformed):
    check = vp.check_queues(transformed)
    assert check.ok, _problems(check)


def test_every_sqs_and_stream_mapping_reports_batch_item_failures(transformed):
    check = vp.check_event_source_mappings(transformed)
    assert check.ok, _problems(check)
    assert check.summary == "8 SQS, 1 DynamoDB"


def test_every_rule_feeding_a_queue_is_on_the_custom_bus(transformed):
    check = vp.check_rules(transformed)
    assert check.ok, _problems(check)


# ---- the structural checks fail on broken templates ------------------------------------------
def _first(template: dict, resource_type: str) -> dict:
    return next(iter(vp.resources_of(template, resource_type).values()))["Properties"]


def _drop_stream(t):
    _first(t, "AWS::DynamoDB::Table").pop("StreamSpecification")


def _drop_ttl(t):
    _first(t, "AWS::DynamoDB::Table").pop("TimeToLiveSpecification")


def _rename_bus(t):
    _first(t, "AWS::Events::EventBus")["Name"] = "oms"


def _drop_redrive(t):
    t["Resources"]["ValidationQueue"]["Properties"].pop("RedrivePolicy")


def _drop_response_types(t):
    _first(t, "AWS::Lambda::EventSourceMapping").pop("FunctionResponseTypes")


def _hardcode_queue_arn(t):
    for mapping in vp.resources_of(t, "AWS::Lambda::EventSourceMapping").values():
        if "Queue" in str(mapping["Properties"]["EventSourceArn"]):
            mapping["Properties"]["EventSourceArn"] = {
                "Fn::Sub": "arn:${AWS::Partition}:sqs:${AWS::Region}:${AWS::AccountId}:oms-validation"}
            return


def _rule_on_default_bus(t):
    t["Resources"]["ValidationRule"]["Properties"].pop("EventBusName")


@pytest.mark.parametrize(("break_it", "check"), [
    (_drop_stream, vp.check_table), (_drop_ttl, vp.check_table), (_rename_bus, vp.check_event_bus),
    (_drop_redrive, vp.check_queues), (_drop_response_types, vp.check_event_source_mappings),
    (_hardcode_queue_arn, vp.check_event_source_mappings), (_rule_on_default_bus, vp.check_rules),
    (_rename_bus, vp.check_rules),
], ids=lambda v: getattr(v, "__name__", str(v)))
def test_structural_check_fails_on_a_broken_template(transformed, break_it, check):
    broken = copy.deepcopy(transformed)
    break_it(broken)
    assert check(transformed).ok
    assert not check(broken).ok
