"""The OpenAPI document (GET /openapi.json): valid OpenAPI 3.1, every route of Chalice's table in
it, and what each route's @documented(...) says checked against the view's own code."""
from __future__ import annotations

import ast
import importlib
import inspect
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def app():
    from app import app

    return app


@pytest.fixture(scope="module")
def document(app):
    from functions.api.openapi import document

    return document(app)


@pytest.fixture(scope="module")
def models():
    from functions.api.openapi import models_by_name

    return models_by_name()


def test_the_document_is_valid_openapi_3_1(document):
    from openapi_spec_validator import validate
    from openapi_spec_validator.validation import OpenAPIV31SpecValidator

    assert document["openapi"] == "3.1.0"
    validate(document, cls=OpenAPIV31SpecValidator)


def test_every_route_of_the_app_is_in_the_document_and_nothing_else(app, document):
    expected = set()
    for path, methods in app.routes.items():
        for method, entry in methods.items():
            actions = entry.view_function.documented.actions
            paths = [path.replace("{action}", action) for action in actions] if actions else [path]
            expected |= {(p, method.lower()) for p in paths}
    documented = {(path, method) for path, item in document["paths"].items() for method in item}
    assert documented == expected
    for blueprint in ("webhooks", "ops", "customers", "customer_account", "returns_api", "cases_api", "inventory_api",
                      "warehouse_api", "payment_ops", "analytics_api", "dead_letters", "openapi"):
        assert any(blueprint in op["tags"] for item in document["paths"].values() for op in item.values()), blueprint


def test_a_route_without_a_declaration_is_refused():
    from chalice import Chalice

    from functions.api.openapi import build_document

    bare = Chalice(app_name="bare")

    @bare.route("/undeclared")
    def undeclared():
        return {}

    with pytest.raises(ValueError, match="GET /undeclared .* has no @documented"):
        build_document(bare)


def test_request_bodies_are_the_models_json_schemas(document, models):
    """Each body is a $ref to the schema pydantic makes of the model that parses it: never a copy."""
    schemas = document["components"]["schemas"]
    from functions.api.ops_inputs import HoldRelease
    from oms.services.canonical import CanonicalOrder

    release = document["paths"]["/orders/{order_id}/holds/{hold_type}/release"]["post"]["requestBody"]
    assert release["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/HoldRelease"}
    assert schemas["HoldRelease"] == HoldRelease.model_json_schema()
    canonical = CanonicalOrder.model_json_schema(ref_template="#/components/schemas/{model}")
    assert schemas["CanonicalOrder"] == {k: v for k, v in canonical.items() if k != "$defs"}
    for name, schema in canonical["$defs"].items():
        assert schemas[name] == schema


def test_errors_are_the_error_shape_and_ops_routes_need_the_token(document):
    error = document["components"]["schemas"]["Error"]
    assert error["properties"]["error"]["required"] == ["code", "message", "details"]
    for path, item in document["paths"].items():
        for method, operation in item.items():
            for status, response in operation["responses"].items():
                if int(status) >= 400:
                    assert response == {"$ref": f"#/components/responses/{status}"}, (method, path, status)
    paths = document["paths"]
    assert paths["/orders/{order_id}"]["get"]["security"] == [{"opsToken": []}]
    assert paths["/customers/me/orders"]["get"]["security"] == [{"customerToken": []}]
    for public in ("/health", "/openapi.json", "/track/{order_ref}", "/webhooks/orders/generic"):
        assert next(iter(paths[public].values()))["security"] == [], public
    shopify = paths["/webhooks/orders/shopify"]["post"]
    signature = next(p for p in shopify["parameters"] if p["name"] == "X-Shopify-Hmac-Sha256")
    assert (signature["in"], signature["required"]) == ("header", True)
    assert "401" in shopify["responses"] and "401" in paths["/orders/{order_id}"]["get"]["responses"]
    assert set(paths["/returns/{return_id}/receive"]["post"]["responses"]) == {
        "200", "400", "401", "404", "409", "413", "422", "503"}


def test_the_route_serves_the_document_without_a_token(app, document):
    from chalice.test import Client

    with Client(app) as client:
        response = client.http.get("/openapi.json", headers={"Host": "oms.example.com", "X-Forwarded-Proto": "https"})
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    served = json.loads(response.body)
    assert served.pop("servers") == [{"url": "https://oms.example.com"}]
    assert served == json.loads(json.dumps(document))


@pytest.mark.parametrize(("path", "headers", "url"), [
    ("/dev/openapi.json", {"host": "abc123.execute-api.us-east-1.amazonaws.com", "x-forwarded-proto": "https"},
     "https://abc123.execute-api.us-east-1.amazonaws.com/dev"),  # API Gateway's stage
    ("/oms/openapi.json", {"host": "api.shop.example", "x-forwarded-proto": "https"}, "https://api.shop.example/oms"),
    ("/openapi.json", {"host": "127.0.0.1:8000"}, "http://127.0.0.1:8000"),  # make run
])
def test_the_server_is_where_the_document_was_fetched_from(path, headers, url):
    from types import SimpleNamespace

    from functions.api.openapi import server

    assert server(SimpleNamespace(context={"path": path}, headers=headers)) == {"url": url}


def test_app_imports_no_model_until_the_document_is_asked_for():
    """app.py's cold start is measured: the document's models are imported on its first request."""
    probe = "import sys, app; print(sorted(m for m in ('pydantic', 'functions.api.ops_inputs') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True,
                         env={"PYTHONPATH": f"{ROOT}:{ROOT / 'layers'}", "PATH": "/usr/bin:/bin",
                              "AWS_DEFAULT_REGION": "us-east-1"})
    assert out.stdout.strip() == "[]"


# ---- each declaration against its view's code ------------------------------------------------------------
# A view's reach: its own body, and the functions of its module and of functions/api/http.py it calls
# (not names it imports inside itself). A model is parsed where its name is passed to a call
# (`_body(Model)`, `parsed(data, Model)`); a success status is the literal of json_response(...) or
# Response(status_code=...) below 400.

def _functions(module) -> dict[str, ast.FunctionDef]:
    tree = ast.parse(inspect.getsource(module))
    return {node.name: node for node in tree.body if isinstance(node, ast.FunctionDef)}


class Reach:
    def __init__(self, view, models):
        from functions.api import http

        self.models = models
        self.module = importlib.import_module(view.__module__)
        self.functions = {**_functions(http), **_functions(self.module)}
        self.node = ast.parse(textwrap.dedent(inspect.getsource(inspect.unwrap(view)))).body[0]

    def _walk(self, nodes, seen: set[str]):
        local = {alias.asname or alias.name for node in nodes for sub in ast.walk(node)
                 if isinstance(sub, ast.ImportFrom) for alias in sub.names}
        for node in nodes:
            for sub in ast.walk(node):
                yield sub
                if (isinstance(sub, ast.Call) and isinstance(sub.func, ast.Name) and sub.func.id in self.functions
                        and sub.func.id not in local and sub.func.id not in seen):
                    seen.add(sub.func.id)
                    yield from self._walk([self.functions[sub.func.id]], seen)

    def parsed(self, nodes) -> set[str]:
        return {arg.id for sub in self._walk(nodes, set()) if isinstance(sub, ast.Call)
                for arg in sub.args if isinstance(arg, ast.Name) and arg.id in self.models}

    def successes(self, nodes) -> set[int]:
        found = set()
        for sub in self._walk(nodes, set()):
            if not isinstance(sub, ast.Call) or not isinstance(sub.func, ast.Name):
                continue
            status = (sub.args[0] if sub.func.id == "json_response" and sub.args else
                      next((k.value for k in sub.keywords if k.arg == "status_code"), None)
                      if sub.func.id == "Response" else None)
            if status is not None:
                found |= {c.value for c in ast.walk(status) if isinstance(c, ast.Constant) and isinstance(c.value, int)}
        return {status for status in found if status < 400}

    def by_action(self) -> dict[str, list]:
        """The statements each `if action == "x"` / `if action in (...)` of the view runs."""
        branches: dict[str, list] = {}
        for node in ast.walk(self.node):
            if isinstance(node, ast.If) and isinstance(node.test, ast.Compare) \
                    and isinstance(node.test.left, ast.Name) and node.test.left.id == "action":
                names = [c.value for c in ast.walk(node.test.comparators[0]) if isinstance(c, ast.Constant)]
                for name in names:
                    branches.setdefault(name, []).extend(node.body)
        return branches


def _declared_operations(app):
    for path, methods in app.routes.items():
        for method, entry in methods.items():
            yield f"{method} {path}", entry.view_function, entry.view_function.documented, method


def test_each_route_names_the_models_it_parses_and_the_statuses_it_answers(app, models):
    from functions.api.openapi import BODY_METHODS

    wrong = []
    for name, view, declared, method in _declared_operations(app):
        reach = Reach(view, models)
        if declared.actions:
            branches = reach.by_action()
            if set(branches) != set(declared.actions):
                wrong.append(f"{name}: actions {sorted(branches)} in the code, {sorted(declared.actions)} declared")
                continue
            cases = [(f"{name} ({action})", branches[action], declared.actions[action]) for action in branches]
        else:
            cases = [(name, [reach.node], declared)]
        for label, nodes, spec in cases:
            names = {spec.body, spec.mapped_to} - {None} if method in BODY_METHODS else set()
            if method in BODY_METHODS and reach.parsed(nodes) != names:
                wrong.append(f"{label} parses {sorted(reach.parsed(nodes))}, declares {sorted(names)}")
            if not reach.successes(nodes) <= set(spec.ok):
                wrong.append(f"{label} answers {sorted(reach.successes(nodes))}, declares ok={spec.ok}")
    assert not wrong, "\n".join(wrong)


def test_the_check_sees_a_model_the_declaration_leaves_out(app, models):
    """The check above is not vacuous: a view parsing a model its declaration does not name is caught."""
    from functions.api import ops

    reach = Reach(ops.release_hold, models)
    assert reach.parsed([reach.node]) == {"HoldRelease"}
    returns = Reach(app.routes["/returns/{return_id}/{action}"]["POST"].view_function, models)
    branches = returns.by_action()
    assert returns.parsed(branches["tracking"]) == {"ReturnTrackingIn"}
    assert returns.parsed(branches["label"]) == {"ReturnLabelIn"}
    assert returns.parsed(branches["approve"]) == set()
    assert Reach(ops.ship, models).successes([Reach(ops.ship, models).node]) == {200, 201}
