"""The API's OpenAPI 3.1 document, served at GET /openapi.json without a token (like /health).

Every operation comes from Chalice's own route table, so a new route cannot be left out; what
Chalice does not know (the model that parses a body, the answers, the parameters it reads) comes
from the route's `@documented(...)` (functions/api/http.py), and every request body schema from
the pydantic model that parses it. Built on the first request and kept for the process: nothing
here is imported before then, so app.py's cold start does not pay for pydantic."""
from __future__ import annotations

import functools
import re

from chalice import Blueprint

from .http import ANY_BODY, documented, json_response

openapi_doc = Blueprint(__name__)

MODEL_MODULES = ("functions.api.ops_inputs", "oms.services.canonical")
BODY_METHODS = {"POST", "PUT", "PATCH"}  # a route serving GET and POST reads its body on POST only
ERROR_DESCRIPTIONS = {
    400: "The body is not a JSON object (`invalid_json`).",
    401: "No valid token, or a webhook's signature is missing or wrong: nothing was written.",
    403: "No such route or method (API Gateway's answer, in the error shape).",
    404: "Nothing by that id or reference.",
    409: "The request conflicts with the current state (the code says which).",
    413: "The body is over 1 MiB, or the order is too large to store.",
    415: "The body's media type is not one this route reads.",
    422: "The request is well formed but cannot be processed: `details` says which fields and why.",
    503: "A dependency (the database, the bus, the processor, the carrier) did not answer: retry after "
         "`Retry-After` seconds. Nothing was half-written.",
}
SIGNATURES = {  # docs/http-api.md#webhooks-signed
    "X-OMS-Signature": "`t=<unix time>,v1=<hex HMAC-SHA256 of \"<t>.<raw body>\">`, 300 s tolerance; several `v1=` "
                       "during a secret's rotation.",
    "X-Shopify-Hmac-Sha256": "The base64 HMAC-SHA256 of the raw body, keyed with the webhook secret.",
    "X-Hmac-Signature": "`hmac-sha256-hex=<hex HMAC-SHA256 of the raw body>`, keyed with the NFKD-normalised "
                        "secret (EasyPost).",
    "aftership-hmac-sha256": "The base64 HMAC-SHA256 of the raw body (AfterShip).",
    "Stripe-Signature": "`t=<unix time>,v1=<hex HMAC-SHA256 of \"<t>.<raw body>\">`, 300 s either way (Stripe).",
}
HEADERS = {
    "Idempotency-Key": "Up to 255 characters: the same key with the same body answers the first result again.",
    "X-Shopify-Topic": "`orders/create` (the default), `orders/cancelled` or `orders/paid`; other topics are "
                       "acknowledged and ignored.",
    "X-Shopify-Shop-Domain": "The shop the order comes from (kept to tell Shopify about the order later).",
}
QUERY = {
    "email": "The e-mail address on the order: with the reference, the customer's proof.",
    "cursor": "The `next_cursor` of the previous page.",
}


@openapi_doc.route("/openapi.json", methods=["GET"], content_types=ANY_BODY)
@documented()
def openapi_document():
    """This document: the API in OpenAPI 3.1."""
    return json_response(200, {**document(openapi_doc.current_app), "servers": [server(openapi_doc.current_request)]})


def server(request) -> dict:
    """Where the document was fetched from, so a client finds the API there: API Gateway's stage
    (or a custom domain's base path) is the part of the request's path before /openapi.json."""
    path = (request.context or {}).get("path") or ""
    base = path[:-len("/openapi.json")] if path.endswith("/openapi.json") else ""
    scheme = request.headers.get("x-forwarded-proto") or "http"
    return {"url": f"{scheme}://{request.headers.get('host') or 'localhost'}{base}"}


@functools.cache
def document(app) -> dict:
    return build_document(app)


def models_by_name() -> dict[str, type]:
    """Every request model, by class name, from the modules that hold them."""
    import importlib

    from pydantic import BaseModel

    found: dict[str, type] = {}
    for module_name in MODEL_MODULES:
        module = importlib.import_module(module_name)
        for name, value in vars(module).items():
            if isinstance(value, type) and issubclass(value, BaseModel) and value.__module__ == module_name:
                if name in found:
                    raise ValueError(f"two request models are named {name}")
                found[name] = value
    return found


def operations(app):
    """(route path, method, document path, view, declaration, action) for every method of every
    route in Chalice's table; a route ending in {action} is one operation per declared action."""
    for path, methods in app.routes.items():
        for method, entry in methods.items():
            view = entry.view_function
            declared = getattr(view, "documented", None)
            if declared is None:
                raise ValueError(f"{method} {path} ({view.__module__}.{entry.view_name}) has no @documented(...)")
            if declared.actions:
                if not path.endswith("/{action}"):
                    raise ValueError(f"{method} {path} declares actions but has no {{action}}")
                for action, spec in declared.actions.items():
                    yield path, method, path[:-len("{action}")] + action, entry, spec, action
            else:
                yield path, method, path, entry, declared, None


def build_document(app) -> dict:
    from pydantic.json_schema import models_json_schema

    models = models_by_name()
    operations_ = list(operations(app))
    named = sorted({name for *_, spec, _ in operations_ for name in (spec.body, spec.mapped_to) if name})
    unknown = [name for name in named if name not in models]
    if unknown:
        raise ValueError(f"no request model named {', '.join(unknown)} in {', '.join(MODEL_MODULES)}")
    refs, definitions = models_json_schema([(models[name], "validation") for name in named],
                                           ref_template="#/components/schemas/{model}")
    schema_of = {name: refs[(models[name], "validation")] for name in named}
    schemas = {**definitions.get("$defs", {}), "Error": ERROR_SCHEMA}
    paths: dict[str, dict] = {}
    for route_path, method, path, entry, spec, action in operations_:
        paths.setdefault(path, {})[method.lower()] = _operation(route_path, method, path, entry, spec, action,
                                                                schema_of)
    return {
        "openapi": "3.1.0",
        "info": {"title": "OMS API", "version": "1",
                 "description": "The order management system's HTTP API (docs/http-api.md). Every error is "
                                "`{\"error\": {\"code\", \"message\", \"details\": [...]}}`. Every body is read "
                                "as JSON whatever its Content-Type says."},
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": dict(sorted(schemas.items())),
            "responses": {str(status): {"description": text, "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
                **({"headers": {"Retry-After": {"schema": {"type": "string"}, "description": "Seconds to wait"}}}
                   if status == 503 else {})} for status, text in ERROR_DESCRIPTIONS.items()},
            "securitySchemes": {
                "opsToken": {"type": "http", "scheme": "bearer",
                             "description": "The operators' token (`OMS_OPS_TOKEN`, Secrets Manager in AWS), checked "
                                            "by the API's authorizer."},
                "customerToken": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                                  "description": "A signed-in customer's token from the storefront (HS256, or RS256 "
                                                 "through a JWKS): its e-mail claim names the customer."},
            },
        },
    }


ERROR_SCHEMA = {
    "type": "object", "required": ["error"], "additionalProperties": False,
    "properties": {"error": {
        "type": "object", "required": ["code", "message", "details"], "additionalProperties": False,
        "properties": {"code": {"type": "string"}, "message": {"type": "string"},
                       "details": {"type": "array", "items": {}}}}},
}


def _operation(route_path, method, path, entry, spec, action, schema_of) -> dict:
    import inspect

    view = entry.view_function
    operation = {"operationId": entry.view_name + (f"_{action}" if action else "") + f"_{method.lower()}",
                 "tags": [view.__module__.rsplit(".", 1)[-1]],
                 "summary": (entry.view_name.replace("_", " ") + (f": {action}" if action else "")).capitalize(),
                 "parameters": _parameters(path, spec)}
    if view.__doc__:
        operation["description"] = inspect.cleandoc(view.__doc__)
    errors = set(spec.errors)
    if entry.authorizer is not None:
        operation["security"] = [{"opsToken": []}]
        errors.add(401)
    elif spec.security == "customer":
        operation["security"] = [{"customerToken": []}]
        errors.add(401)
    else:
        operation["security"] = []
    if spec.signature:
        errors.add(401)
    has_body = method in BODY_METHODS and (spec.body or spec.described)
    if has_body:
        operation["requestBody"] = _request_body(spec, schema_of)
        errors |= {413, 422} | ({400} if spec.media_type == "application/json" else set())
    if _wrapped_by_api_errors(view):
        errors.add(503)
    if spec.mapped_to:
        operation["x-oms-mapped-to"] = schema_of[spec.mapped_to]
    operation["responses"] = {
        **{str(status): _success(spec, status) for status in spec.ok},
        **{str(status): {"$ref": f"#/components/responses/{status}"} for status in sorted(errors)}}
    return operation


def _parameters(path: str, spec) -> list[dict]:
    parameters = [{"name": name, "in": "path", "required": True, "schema": {"type": "string", "minLength": 1}}
                  for name in re.findall(r"{(\w+)}", path)]
    parameters += [{"name": name, "in": "query", "required": name in spec.required_query,
                    "schema": {"type": "string"}, **({"description": QUERY[name]} if name in QUERY else {})}
                   for name in (*spec.required_query, *spec.query)]
    if spec.signature:
        parameters.append({"name": spec.signature, "in": "header", "required": True, "schema": {"type": "string"},
                           "description": SIGNATURES[spec.signature]})
    parameters += [{"name": name, "in": "header", "required": False, "schema": {"type": "string"},
                    "description": HEADERS[name]} for name in spec.headers]
    return parameters


def _request_body(spec, schema_of) -> dict:
    if spec.body:
        schema = schema_of[spec.body]
        description = None
    else:
        schema = {"type": "object"} if spec.media_type == "application/json" else {"type": "string"}
        description = spec.described + (f"; mapped to {spec.mapped_to} and parsed as one" if spec.mapped_to else "")
    body = {"required": not spec.optional, "content": {spec.media_type: {"schema": schema}}}
    if spec.optional:
        description = "Optional: an empty body takes the defaults."
    if description:
        body["description"] = description
    return body


def _success(spec, status: int) -> dict:
    schema = {"type": "object"} if spec.produces == "application/json" else {"type": "string"}
    return {"description": {200: "OK", 201: "Created", 202: "Accepted"}.get(status, "Success"),
            "content": {spec.produces: {"schema": schema}}}


def _wrapped_by_api_errors(view) -> bool:
    """Routes under @api_errors answer 503 when a dependency fails (/health and /dashboard do not)."""
    from .http import api_errors as wrap

    return view.__code__ is wrap(lambda: None).__code__
