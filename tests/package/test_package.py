"""The Lambda artefacts themselves: `make package` builds build/sam.yaml, Chalice's
build/deployment.zip and the analytics packages (build/analytics.zip, build/facts.zip), and runs
infra.verify_package on them. Each of the verifier's checks also runs here as its own test, so a
failure names the problem; and the checks are shown to fail on broken inputs."""
from __future__ import annotations

import copy
import os
import re
import subprocess
import zipfile
from pathlib import Path

import pytest

from infra import verify_iam as vi
from infra import verify_operations as vo
from infra import verify_package as vp
from infra import verify_template as vt

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
    for name in ("sam.yaml", vp.BASE_PACKAGE, vp.ANALYTICS_PACKAGE, vp.FACTS_PACKAGE):
        assert (BUILD / name).is_file(), f"`make package` did not write build/{name}\n{_output(make_package)}"
    return BUILD


@pytest.fixture(scope="session")
def unzipped(build, tmp_path_factory) -> Path:
    """The artefact as Lambda sees it in /var/task (extracted once for the import tests)."""
    return vp.extract(build / vp.BASE_PACKAGE, tmp_path_factory.mktemp("package") / "task")


@pytest.fixture(scope="session")
def template(build) -> dict:
    return vp.load_template(build / "sam.yaml")


@pytest.fixture(scope="session")
def handlers(template) -> list[str]:
    return vt.handlers_of(template)


@pytest.fixture(scope="session")
def packages(template) -> dict[str, list[str]]:
    return vt.handlers_by_package(template)


@pytest.fixture(scope="session")
def transformed(template) -> dict:
    return vp.translate(template)


# ---- the whole verifier, as `make package` runs it ---------------------------------------------
def test_make_package_builds_and_the_verifier_passes(make_package):
    """Each package's own imports (numpy, scipy, sqlglot in analytics.zip; DuckDB and its httpfs
    extension in facts.zip) are checked there, from each package unzipped in a clean interpreter."""
    assert make_package.returncode == 0, f"`make package` failed\n{_output(make_package)}"
    assert "package verification passed" in make_package.stdout
    assert "FAIL" not in make_package.stdout
    for check in ("imports: deployment.zip", "imports: analytics.zip", "imports: facts.zip", "httpfs: facts.zip"):
        assert re.search(rf"^{re.escape(check)}\s+PASS", make_package.stdout, re.MULTILINE), check


# ---- (a) imports in a clean interpreter --------------------------------------------------------
def test_template_names_every_handler_app_declares(handlers):
    import app

    expected = {"app.app"} | {f"app.{source.name}" for source in app.app.event_sources}
    assert expected <= set(handlers), f"handlers missing from the template: {expected - set(handlers)}"
    assert "functions.api.ops.ops_token_authorizer" in handlers


def test_every_handler_imports_in_a_clean_interpreter(unzipped, handlers):
    check = vp.check_unzipped_imports(unzipped, handlers, modules=(), sweep_own_code=False)
    assert check.ok, check.report()


@pytest.mark.parametrize("module", vp.LAZY_MODULES)
def test_lazily_imported_handler_body_imports_in_a_clean_interpreter(unzipped, module):
    check = vp.check_unzipped_imports(unzipped, [], modules=[module], sweep_own_code=False)
    assert check.ok, check.report()


def test_runtime_dependencies_are_in_the_zip(unzipped):
    check = vp.check_unzipped_imports(unzipped, [], modules=vp.RUNTIME_MODULES, sweep_own_code=False)
    assert check.ok, check.report()


def test_every_module_of_our_code_in_the_zip_imports(unzipped):
    for package in vp.OWN_PACKAGES:
        assert (unzipped / package / "__init__.py").is_file(), f"{package}/ is not in the zip (vendor/ symlink?)"
    check = vp.check_unzipped_imports(unzipped, [], modules=())
    assert check.ok, check.report()


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


def test_the_order_paths_package_carries_no_analytics_dependency(unzipped):
    """Heavy code gets its own package (DESIGN 8): none of it is in Chalice's deployment.zip."""
    heavy = ["numpy", "scipy", "sqlglot", "duckdb", "duckdb_extension_httpfs"]
    check = vp.check_unzipped_imports(unzipped, [], modules=heavy, sweep_own_code=False)
    assert len(check.problems) == len(heavy), check.problems


# ---- the analytics packages --------------------------------------------------------------------
def test_each_analytics_function_runs_from_its_own_package(packages):
    assert set(packages) == {vp.BASE_PACKAGE, vp.ANALYTICS_PACKAGE, vp.FACTS_PACKAGE}
    assert set(packages[vp.ANALYTICS_PACKAGE]) == {"app.app", "app.handle_analytics_jobs",
                                                   "app.handle_analytics_nightly"}
    assert packages[vp.FACTS_PACKAGE] == ["app.handle_analytics_facts"]
    assert "app.app" in packages[vp.BASE_PACKAGE]
    assert not {h for h in packages[vp.BASE_PACKAGE] if "analytics" in h or "clv" in h}


def test_every_package_is_within_lambdas_unzipped_limit(build, packages):
    check = vp.check_sizes(build, packages)
    assert check.ok, check.report()
    assert vp.unzipped_size(build / vp.ANALYTICS_PACKAGE) > vp.unzipped_size(build / vp.BASE_PACKAGE) + 100 * 2**20


def test_size_check_fails_over_the_limit(build, packages, monkeypatch):
    monkeypatch.setattr(vp, "LAMBDA_UNZIPPED_LIMIT", vp.unzipped_size(build / vp.FACTS_PACKAGE) - 1)
    check = vp.check_sizes(build, packages)
    assert [p.split()[0] for p in check.problems] == [vp.ANALYTICS_PACKAGE, vp.FACTS_PACKAGE]


def test_httpfs_check_fails_without_the_extension_file(tmp_path):
    """The same DuckDB beside an extension package that lacks the extension file."""
    import duckdb

    site_packages = Path(duckdb.__file__).parent.parent
    for entry in site_packages.iterdir():
        if entry.name.startswith(("duckdb", "_duckdb")) and not entry.name.startswith("duckdb_extension"):
            (tmp_path / entry.name).symlink_to(entry)
    (tmp_path / "duckdb_extension_httpfs").mkdir()
    (tmp_path / "duckdb_extension_httpfs" / "__init__.py").write_text("")
    check = vp.check_duckdb_httpfs(tmp_path)
    assert not check.ok and "no httpfs extension" in check.problems[0], check.problems


# ---- (b) cfn-lint, (c) SAM translator ----------------------------------------------------------
def test_cfn_lint_reports_no_errors(build):
    check = vp.check_cfn_lint(build / "sam.yaml")
    assert check.ok, check.report()


def test_sam_translator_transforms_the_template(template, packages):
    check, transformed = vp.check_sam_translate(template)
    assert check.ok, check.report()
    functions = vt.resources_of(transformed, "AWS::Lambda::Function")
    assert all(f["Properties"]["Code"]["S3Bucket"] == "bucket" for f in functions.values())
    assert functions["AnalyticsApiHandler"]["Properties"]["Code"]["S3Key"] == vp.ANALYTICS_PACKAGE
    assert functions["HandleAnalyticsFacts"]["Properties"]["Code"]["S3Key"] == vp.FACTS_PACKAGE
    assert {f["Properties"]["Code"]["S3Key"] for f in functions.values()} == set(packages)


# ---- (d) structure ------------------------------------------------------------------------------
def test_table_has_stream_and_ttl(transformed):
    check = vt.check_table(transformed)
    assert check.ok, check.report()


def test_custom_event_bus_named_by_stage(transformed):
    check = vt.check_event_bus(transformed)
    assert check.ok, check.report()


def test_every_consumer_queue_redrives_to_a_dlq(transformed):
    check = vt.check_queues(transformed)
    assert check.ok, check.report()


def test_every_sqs_and_stream_mapping_reports_batch_item_failures(transformed):
    check = vt.check_event_source_mappings(transformed)
    assert check.ok, check.report()
    assert check.summary == "10 SQS, 1 DynamoDB"


def test_every_rule_feeding_a_queue_is_on_the_custom_bus(transformed):
    check = vt.check_rules(transformed)
    assert check.ok, check.report()


# ---- (e) analytics: routes, rule and Glue tables agree with the code ---------------------------
def test_analytics_routes_go_to_the_analytics_function_and_the_rest_to_chalices(template):
    check = vt.check_api_routes(template)
    assert check.ok, check.report()
    assert check.summary.endswith(" 9 to AnalyticsApiHandler"), check.summary


def test_analytics_routes_keep_chalices_authorizer_and_integration(template):
    """template.yaml replaces only the integration's uri: the merge keeps the rest of the method."""
    paths = template["Resources"]["RestAPI"]["Properties"]["DefinitionBody"]["paths"]
    summary, orders = paths["/analytics/summary"]["get"], paths["/orders/{order_id}"]["get"]
    assert summary["security"] == orders["security"] == [{"ops_token_authorizer": []}]
    assert summary["responses"] == orders["responses"]
    for key in ("type", "httpMethod", "passthroughBehavior", "contentHandling", "responses"):
        assert summary["x-amazon-apigateway-integration"][key] == orders["x-amazon-apigateway-integration"][key]


def test_analytics_rule_subscribes_to_exactly_the_facts_event_types(template):
    check = vt.check_analytics_rule(template)
    assert check.ok, check.report()


def test_glue_tables_declare_the_facts_tables(template):
    check = vt.check_glue_tables(template)
    assert check.ok, check.report()


def test_analytics_functions_are_sized_and_mapped_as_the_template_says(template):
    resources = template["Resources"]
    facts, jobs = resources["HandleAnalyticsFacts"]["Properties"], resources["HandleAnalyticsJobs"]["Properties"]
    assert (facts["CodeUri"], facts["MemorySize"], facts["Timeout"]) == ("./facts.zip", 1024, 120)
    assert (jobs["CodeUri"], jobs["MemorySize"], jobs["Timeout"]) == ("./analytics.zip", 3008, 900)
    source = facts["Events"]["HandleAnalyticsFactsSqsEventSource"]["Properties"]
    assert (source["BatchSize"], source["MaximumBatchingWindowInSeconds"]) == (100, 30)
    queues = {name: resources[name]["Properties"] for name in ("AnalyticsQueue", "AnalyticsJobsQueue")}
    assert queues["AnalyticsQueue"]["VisibilityTimeout"] >= 6 * facts["Timeout"]
    assert queues["AnalyticsJobsQueue"]["VisibilityTimeout"] >= 960


# ---- the structural checks fail on broken templates ------------------------------------------
def _first(template: dict, resource_type: str) -> dict:
    return next(iter(vt.resources_of(template, resource_type).values()))["Properties"]


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
    for mapping in vt.resources_of(t, "AWS::Lambda::EventSourceMapping").values():
        if "Queue" in str(mapping["Properties"]["EventSourceArn"]):
            mapping["Properties"]["EventSourceArn"] = {
                "Fn::Sub": "arn:${AWS::Partition}:sqs:${AWS::Region}:${AWS::AccountId}:oms-validation"}
            return


def _rule_on_default_bus(t):
    t["Resources"]["ValidationRule"]["Properties"].pop("EventBusName")


@pytest.mark.parametrize(("break_it", "check"), [
    (_drop_stream, vt.check_table), (_drop_ttl, vt.check_table), (_rename_bus, vt.check_event_bus),
    (_drop_redrive, vt.check_queues), (_drop_response_types, vt.check_event_source_mappings),
    (_hardcode_queue_arn, vt.check_event_source_mappings), (_rule_on_default_bus, vt.check_rules),
    (_rename_bus, vt.check_rules),
], ids=lambda v: getattr(v, "__name__", str(v)))
def test_structural_check_fails_on_a_broken_template(transformed, break_it, check):
    broken = copy.deepcopy(transformed)
    break_it(broken)
    assert check(transformed).ok
    assert not check(broken).ok


def _summary_to_api_handler(t):
    integration = t["Resources"]["RestAPI"]["Properties"]["DefinitionBody"]["paths"]["/analytics/summary"]["get"]
    integration["x-amazon-apigateway-integration"]["uri"]["Fn::Sub"] = integration[
        "x-amazon-apigateway-integration"]["uri"]["Fn::Sub"].replace("AnalyticsApiHandler", "APIHandler")


def _orders_to_analytics_handler(t):
    integration = t["Resources"]["RestAPI"]["Properties"]["DefinitionBody"]["paths"]["/orders/{order_id}"]["get"]
    integration["x-amazon-apigateway-integration"]["uri"]["Fn::Sub"] = integration[
        "x-amazon-apigateway-integration"]["uri"]["Fn::Sub"].replace("APIHandler", "AnalyticsApiHandler")


def _drop_invoke_permission(t):
    t["Resources"].pop("AnalyticsApiHandlerInvokePermission")


def _drop_event_type(t):
    t["Resources"]["AnalyticsRule"]["Properties"]["EventPattern"]["detail-type"].remove("ShipmentDelivered")


def _rule_to_jobs_queue(t):
    t["Resources"]["AnalyticsRule"]["Properties"]["Targets"][0]["Arn"] = {"Fn::GetAtt": ["AnalyticsJobsQueue", "Arn"]}


def _retype_column(t):
    columns = t["Resources"]["AnalyticsOrdersTable"]["Properties"]["TableInput"]["StorageDescriptor"]["Columns"]
    columns[5]["Type"] = "int"  # total: BIGINT


def _swap_columns(t):
    columns = t["Resources"]["AnalyticsPaymentsTable"]["Properties"]["TableInput"]["StorageDescriptor"]["Columns"]
    columns[0], columns[1] = columns[1], columns[0]


def _unescaped_projection(t):
    parameters = t["Resources"]["AnalyticsCasesTable"]["Properties"]["TableInput"]["Parameters"]
    parameters["storage.location.template"]["Fn::Sub"] = parameters["storage.location.template"]["Fn::Sub"].replace(
        "${!dt}", "${dt}")


def _drop_glue_table(t):
    t["Resources"].pop("AnalyticsReturnsTable")


@pytest.mark.parametrize(("break_it", "check"), [
    (_summary_to_api_handler, vt.check_api_routes), (_orders_to_analytics_handler, vt.check_api_routes),
    (_drop_invoke_permission, vt.check_api_routes), (_drop_event_type, vt.check_analytics_rule),
    (_rule_to_jobs_queue, vt.check_analytics_rule), (_retype_column, vt.check_glue_tables),
    (_swap_columns, vt.check_glue_tables), (_unescaped_projection, vt.check_glue_tables),
    (_drop_glue_table, vt.check_glue_tables),
], ids=lambda v: getattr(v, "__name__", str(v)))
def test_analytics_check_fails_on_a_broken_template(template, break_it, check):
    broken = copy.deepcopy(template)
    break_it(broken)
    assert check(template).ok
    assert not check(broken).ok


# ---- (f) operations: alarms, dashboard, tracing, throttling on the packaged template ----------
@pytest.mark.parametrize("check", [vo.check_alarm_actions, vo.check_dlq_alarms, vo.check_function_alarms,
                                   vo.check_outbox_alarm, vo.check_api, vo.check_no_orders_alarm,
                                   vo.check_dashboard, vo.check_tracing], ids=lambda c: c.__name__)
def test_operations_check_passes_on_the_package(template, check):
    """The same checks tests/unit/test_template_operations.py shows failing on broken templates."""
    result = check(template)
    assert result.ok, result.report()


def test_every_packaged_function_is_watched(template):
    functions = vt.resources_of(template, "AWS::Serverless::Function")
    assert vo.check_function_alarms(template).summary == f"{len(functions)} functions"
    assert len(functions) >= 21


@pytest.mark.parametrize("check", [vi.check_function_roles, vi.check_least_privilege, vi.check_event_source_permissions,
                                   vi.check_encryption, vi.check_checkov_skips], ids=lambda c: c.__name__)
def test_iam_check_passes_on_the_package(template, check):
    """The same checks tests/unit/test_template_iam.py shows failing on broken templates."""
    result = check(template)
    assert result.ok, result.report()
