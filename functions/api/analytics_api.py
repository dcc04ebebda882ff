"""Analytics over HTTP: history import, KPIs, customer lifetime value, forecasts, the dashboard.
In AWS these routes run in the analytics package's own function (template.yaml points their
paths at it), so the order path's Lambda never carries numpy or scipy."""
from __future__ import annotations

from pathlib import Path

from chalice import Blueprint, Response

from .http import ANY_BODY, ApiError, api_errors, documented, json_object, json_response, raw_body
from .ops import ops_token_authorizer

analytics_api = Blueprint(__name__)
DASHBOARD = Path(__file__).parent / "dashboard"


def _params() -> dict:
    return analytics_api.current_request.query_params or {}


def _service():
    from analytics.service import AnalyticsService

    return AnalyticsService.from_environment()


def _checked(call):
    from analytics.service import InvalidQuery
    from analytics.store import QueryFailed

    try:
        return call()
    except InvalidQuery as error:
        raise ApiError(422, error.code, str(error), error.details) from None
    except QueryFailed as error:  # Athena's or DuckDB's trouble, not the caller's: retry later
        raise ApiError(503, "analytics_unavailable", f"the analytics store did not answer: {error}",
                       headers={"Retry-After": "5"}) from None


@analytics_api.route("/analytics/history", methods=["POST"], content_types=ANY_BODY, authorizer=ops_token_authorizer)
@documented(described="Orders of the old platform, one JSON object a line (docs/analytics.md)",
            media_type="application/x-ndjson", ok=(202,), errors=(415,))
@api_errors
def import_history():
    request = analytics_api.current_request
    kind = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
    if kind not in ("application/x-ndjson", "application/jsonl", "application/json-lines"):
        raise ApiError(415, "unsupported_media_type", "send JSON Lines as application/x-ndjson")
    body = raw_body(request)
    accepted = _checked(lambda: _service().import_history(body))
    return json_response(202, {"accepted": accepted})


@analytics_api.route("/analytics/summary", methods=["GET"], content_types=ANY_BODY, authorizer=ops_token_authorizer)
@documented(query=("from", "to", "granularity", "channel"), errors=(422,))
@api_errors
def summary():
    return json_response(200, _checked(lambda: _service().summary(_params())))


@analytics_api.route("/analytics/summary.csv", methods=["GET"], content_types=ANY_BODY, authorizer=ops_token_authorizer)
@documented(query=("from", "to", "granularity", "channel"), produces="text/csv", errors=(422,))
@api_errors
def summary_csv():
    from analytics.reports import summary_csv as as_csv

    params = _params()
    text = as_csv(_checked(lambda: _service().summary(params)))
    name = f"summary-{params.get('from', '')}-{params.get('to', '')}.csv".replace("--", "-")
    return Response(status_code=200, body=text, headers={"Content-Type": "text/csv; charset=utf-8",
                                                         "Content-Disposition": f'attachment; filename="{name}"'})


@analytics_api.route("/analytics/fulfilment", methods=["GET"], content_types=ANY_BODY, authorizer=ops_token_authorizer)
@documented(query=("from", "to"), errors=(422,))
@api_errors
def fulfilment():
    return json_response(200, _checked(lambda: _service().fulfilment(_params())))


@analytics_api.route("/analytics/clv/fit", methods=["POST"], content_types=ANY_BODY, authorizer=ops_token_authorizer)
@documented(described="`calibration_end` (YYYY-MM-DD, default today) and `time_unit` (days or weeks)", ok=(202,))
@api_errors
def fit_clv():
    data = json_object(raw_body(analytics_api.current_request))
    return json_response(202, _checked(lambda: _service().request_clv_fit(data)))


@analytics_api.route("/analytics/clv/model", methods=["GET"], content_types=ANY_BODY, authorizer=ops_token_authorizer)
@documented(query=("run_id",), errors=(404, 422))
@api_errors
def clv_model():
    model = _checked(lambda: _service().clv_model(_params().get("run_id")))
    if model is None:
        raise ApiError(404, "not_found", "no lifetime value model has been fitted yet: POST /analytics/clv/fit")
    return json_response(200, model)


@analytics_api.route("/analytics/customers", methods=["GET"], content_types=ANY_BODY, authorizer=ops_token_authorizer)
@documented(query=("sort", "limit", "run_id"), errors=(404, 422))
@api_errors
def customers():
    found = _checked(lambda: _service().customers(_params()))
    if found is None:
        raise ApiError(404, "not_found", "no lifetime value model has been fitted yet: POST /analytics/clv/fit")
    return json_response(200, {"customers": found})


@analytics_api.route("/analytics/forecast", methods=["GET"], content_types=ANY_BODY, authorizer=ops_token_authorizer)
@documented(required_query=("sku",), query=("location_id", "days"), errors=(422,))
@api_errors
def forecast():
    return json_response(200, _checked(lambda: _service().forecast(_params())))


@analytics_api.route("/dashboard", methods=["GET"], content_types=ANY_BODY)
@documented(produces="text/html")
def dashboard():
    """The page itself holds no data: every figure is fetched with the ops token typed into it."""
    page = (DASHBOARD / "dashboard.html").read_text()
    chart = (DASHBOARD / "chart.umd.min.js").read_text()
    return Response(status_code=200, body=page.replace("/*CHART_JS*/", chart, 1),
                    headers={"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store",
                             "Content-Security-Policy": "default-src 'self'; script-src 'unsafe-inline'; "
                                                        "style-src 'unsafe-inline'; img-src data:"})
