"""The composition root: real adapters wired into a service Context, built once per
Lambda instance (on first use, so that cold start only pays for what a handler needs)."""
from __future__ import annotations

import os
from functools import cache

from oms.adapters.dynamodb import DynamoStore
from oms.adapters.system import (
    SystemClock,
    new_case_id,
    new_case_number,
    new_order_id,
    new_order_number,
    new_return_id,
    new_rma_number,
)
from oms.services.context import Context


def _channel_api(channel: str):
    # Imported on first use: only the channel-updates Lambda talks to Shopify or SFCC.
    from oms.adapters.channels.notifiers import notifier_for

    return notifier_for(channel)


def _channel_stock(channel: str):
    from oms.adapters.channels.notifiers import stock_for

    return stock_for(channel)


def _carrier():
    # The easypost client itself is imported on the first label call, not here.
    from oms.adapters.carriers.easypost_labels import EasyPostLabels

    return EasyPostLabels()


def _payment_processor():
    name = os.environ.get("OMS_PAYMENTS", "stripe")
    if name != "stripe":
        raise RuntimeError(f"OMS_PAYMENTS={name}: the only payment processor is stripe")
    from oms.adapters.stripe_payments import StripeProcessor

    return StripeProcessor()


def _imports():
    from oms.adapters.imports import S3Imports

    return S3Imports()


def _mailer():
    from oms.adapters.mail import SesMailer

    return SesMailer()


@cache
def context() -> Context:
    clock = SystemClock()
    store = DynamoStore(clock)
    return Context(store=store, inventory=store, payments=_payment_processor(), clock=clock,
                   new_order_id=new_order_id, new_order_number=new_order_number, channels=_channel_api,
                   returns=store, new_return_id=new_return_id, new_rma_number=new_rma_number,
                   cases=store, new_case_id=new_case_id, new_case_number=new_case_number,
                   notifications=store, mailer=_mailer(), imports=_imports(),
                   channel_stock=_channel_stock, stock_log=store, carrier=_carrier(),
                   authorization_validity_days=int(os.environ.get("OMS_AUTHORIZATION_VALIDITY_DAYS", "7")))
