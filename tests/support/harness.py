"""An in-process pipeline for integration tests: moto (mock_aws) provisioned from
template.yaml, app.py's handlers invoked through chalice.test.Client, and the local
runner's pollers ticked synchronously until every queue and the stream are drained."""
from __future__ import annotations

import os
import threading

TEST_ENV = {
    "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1", "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
    "OMS_STAGE": "test", "OMS_TABLE": "oms-test", "OMS_EVENT_BUS": "oms-test", "OMS_SECRETS": "env",
    "OMS_IMPORTS_BUCKET": "oms-test-imports-123456789012",
    "OMS_OPS_TOKEN": "ops-test-token", "OMS_WEBHOOK_SECRET_ORDERS_GENERIC": "orders-secret",
    "OMS_CUSTOMER_TOKEN_SECRET": "customer-token-secret-of-32-bytes!",
    "OMS_ANALYTICS_CUSTOMER_KEY": "analytics-customer-key", "OMS_MAIL_FROM": "orders@shop.example",
    "OMS_WEBHOOK_SECRET_TRACKING_GENERIC": "tracking-secret", "OMS_PAYMENTS": "stripe",
    "OMS_STRIPE_API_KEY": "sk_test_integration", "OMS_WEBHOOK_SECRET_PAYMENTS_STRIPE": "whsec_integration",
    "OMS_WEBHOOK_SECRET_ORDERS_SHOPIFY": "shopify-app-secret", "OMS_WEBHOOK_SECRET_ORDERS_SFCC": "sfcc-hook-secret",
    "OMS_WEBHOOK_SECRET_TRACKING_EASYPOST": "s\u00e9cret", "OMS_WEBHOOK_SECRET_TRACKING_AFTERSHIP": "aftership-secret",
    "OMS_CHANNEL_TOKEN_SHOPIFY": "shpat_test_token", "OMS_CHANNEL_TOKEN_SFCC": "sfcc-bearer-token",
    "OMS_SFCC_ORGANIZATION_ID": "f_ecom_zzte_053", "OMS_SFCC_SITE_ID": "RefArch",
    "OMS_CHANNEL_RETRY_BASE_SECONDS": "0",
    "OMS_DLQ_REDRIVE": "copy",  # moto has no StartMessageMoveTask
    "POWERTOOLS_LOG_LEVEL": "CRITICAL", "POWERTOOLS_METRICS_NAMESPACE": "OMS",
}
os.environ.pop("AWS_ENDPOINT_URL", None)
os.environ.update(TEST_ENV)

OPS = {"Authorization": f"Bearer {TEST_ENV['OMS_OPS_TOKEN']}", "Content-Type": "application/json"}


class Pipeline:
    """Drives the deployed wiring (template rules, queues, stream) without threads."""

    def __init__(self, client, analytics: bool = False):
        import app as app_module
        from infra.provision import provision
        from infra.runner import build_pollers
        from oms.bootstrap import context

        context.cache_clear()
        from oms.adapters import eventbus

        eventbus._events_client.cache_clear()
        self.client = client
        self.template, self.resolver = provision("test", "us-east-1", visibility_timeout=0)
        self.loops = build_pollers(app_module, self.template, self.resolver, "us-east-1", threading.Event(), 1)
        self.loops = [loop for loop in self.loops if not loop.name.startswith("schedule:")]
        if not analytics:  # the facts writer needs moto's server for DuckDB: tests that want it opt in
            self.loops = [loop for loop in self.loops if "analytics" not in loop.name]
        for loop in self.loops:
            name = loop.invoke.name
            loop.invoke = lambda event, _name=name: client.lambda_.invoke(_name, event).payload
            loop.invoke.name = name  # type: ignore[attr-defined]

    def drain(self, max_rounds: int = 500) -> None:
        idle_rounds = 0
        for _ in range(max_rounds):
            busy = any([loop.tick() for loop in self.loops])
            idle_rounds = 0 if busy else idle_rounds + 1
            if idle_rounds >= 2:
                return
        raise AssertionError("the pipeline did not settle")

    def queue_depth(self, logical_id: str) -> int:
        import boto3

        attributes = boto3.client("sqs").get_queue_attributes(
            QueueUrl=self.resolver.ref(logical_id),
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])
