"""The Chalice app: wiring only. HTTP routes come from blueprints; every event handler is
declared here as a one-line delegation into functions/ (blueprint event handlers would not
run app.py's middleware in AWS, aws/chalice#1566). Handler bodies are imported on first
call, so each Lambda's cold start pays only for its own dependencies."""
import os

from chalice import Chalice, ConvertToMiddleware, Rate

from functions.api.analytics_api import analytics_api
from functions.api.cases_api import cases_api
from functions.api.customer_account import customer_account
from functions.api.customers import customers
from functions.api.dead_letters import dead_letters
from functions.api.inventory_api import inventory_api
from functions.api.openapi import openapi_doc
from functions.api.ops import ops
from functions.api.payment_ops import payment_ops
from functions.api.returns_api import returns_api
from functions.api.warehouse_api import warehouse_api
from functions.api.webhooks import webhooks
from oms.observability.logs import logger, start_work
from oms.observability.tracing import correlate_request, trace_invocation

app = Chalice(app_name="oms")
app.api.binary_types.append("application/pdf")  # packing slips
app.register_middleware(ConvertToMiddleware(logger.inject_lambda_context(clear_state=True)))
app.register_middleware(start_work)  # before the HTTP correlation: middleware runs in the order registered
app.register_middleware(trace_invocation)
app.register_middleware(correlate_request, "http")
app.register_blueprint(customers)
app.register_blueprint(customer_account)
app.register_blueprint(webhooks)
app.register_blueprint(ops)
app.register_blueprint(payment_ops)
app.register_blueprint(returns_api)
app.register_blueprint(cases_api)
app.register_blueprint(inventory_api)
app.register_blueprint(warehouse_api)
app.register_blueprint(dead_letters)
app.register_blueprint(openapi_doc)
app.register_blueprint(analytics_api)  # its own package in AWS: template.yaml routes /analytics and /dashboard

# Queue and stream identities are replaced in the packaged template by template.yaml
# (Chalice cannot reference resources it does not create); these names are the local defaults.
TABLE_STREAM_ARN = os.environ.get(
    "OMS_TABLE_STREAM_ARN", "arn:aws:dynamodb:us-east-1:000000000000:table/oms/stream/local")


@app.on_sqs_message(queue="oms-validation", batch_size=10)
def handle_validation(event):
    from functions.order_events import handle_validation as body
    return body(event)


@app.on_sqs_message(queue="oms-allocation", batch_size=10)
def handle_allocation(event):
    from functions.order_events import handle_allocation as body
    return body(event)


@app.on_sqs_message(queue="oms-payments", batch_size=10)
def handle_payments(event):
    from functions.order_events import handle_payments as body
    return body(event)


@app.on_sqs_message(queue="oms-fulfillment", batch_size=10)
def handle_fulfillment(event):
    from functions.order_events import handle_fulfillment as body
    return body(event)


@app.on_sqs_message(queue="oms-returns", batch_size=10)
def handle_returns(event):
    from functions.order_events import handle_returns as body
    return body(event)


# Small batches and a longer timeout: each message makes up to four vendor calls of up to 10 s.
@app.on_sqs_message(queue="oms-channel-updates", batch_size=2)
def handle_channel_updates(event):
    from functions.channel_events import handle_channel_updates as body
    return body(event)


@app.on_dynamodb_record(stream_arn=TABLE_STREAM_ARN, batch_size=100, starting_position="TRIM_HORIZON")
def handle_table_stream(event):
    from functions.outbox import handle_table_stream as body
    return body(event)


@app.on_sqs_message(queue="oms-service", batch_size=10)
def handle_service(event):
    from functions.service_events import handle_service as body
    return body(event)


# Warehouse counts, one object per message: a 10,000-line count takes a while.
@app.on_sqs_message(queue="oms-imports", batch_size=1)
def handle_imports(event):
    from functions.imports import handle_imports as body
    return body(event)


@app.schedule(Rate(1, unit=Rate.MINUTES))
def handle_sla_sweep(event):
    from functions.schedules import sweep_case_slas as body
    return body(event)


@app.schedule(Rate(1, unit=Rate.MINUTES))
def handle_reservation_sweep(event):
    from functions.schedules import sweep_reservations as body
    return body(event)


@app.schedule(Rate(1, unit=Rate.MINUTES))
def handle_availability_sweep(event):
    from functions.channel_events import sweep_unsent_stock as body
    return body(event)


@app.schedule(Rate(1, unit=Rate.DAYS))
def handle_reservation_check(event):
    from functions.schedules import reconcile_reservations as body
    return body(event)


@app.schedule(Rate(1, unit=Rate.DAYS))
def handle_replenishment_check(event):
    from functions.schedules import check_replenishment as body
    return body(event)


@app.schedule(Rate(5, unit=Rate.MINUTES))
def handle_backorder_sweep(event):
    from functions.schedules import sweep_backorders as body
    return body(event)


# ---- Analytics: their own packages in AWS (template.yaml sets CodeUri), never on the order path.
# Facts reach the analytics store in micro-batches: up to 100 events or 30 seconds a file.
@app.on_sqs_message(queue="oms-analytics", batch_size=100, maximum_batching_window_in_seconds=30)
def handle_analytics_facts(event):
    from functions.analytics import handle_facts as body
    return body(event)


# Lifetime value fits and replenishment forecasts, one at a time.
@app.on_sqs_message(queue="oms-analytics-jobs", batch_size=1)
def handle_analytics_jobs(event):
    from functions.analytics import handle_jobs as body
    return body(event)


# Every night: a lifetime value fit and the forecasts replenishment reorders by.
@app.schedule(Rate(1, unit=Rate.DAYS))
def handle_analytics_nightly(event):
    from functions.analytics import run_nightly as body
    return body(event)
