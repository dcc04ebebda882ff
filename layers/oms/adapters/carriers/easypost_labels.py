"""Rates and labels through EasyPost, with its official client (`easypost`, pinned).

- quote: POST /v2/shipments (to, from, parcel in inches and ounces): the shipment and its rates
- buy:   GET /v2/shipments/{id} first (postage already bought: that label), then
         POST /v2/shipments/{id}/buy with the rate, and GET /v2/shipments/{id}/label?file_format=
         when the label is wanted in another format than EasyPost's default PNG
- void:  POST /v2/shipments/{id}/refund (EasyPost asks the carrier to refund the postage)

Configuration: OMS_EASYPOST_API_BASE (default https://api.easypost.com/v2; `make run` points it at
the local carrier service), the API key in Secrets Manager (oms/<stage>/carriers/easypost/api-key;
OMS_EASYPOST_API_KEY locally)."""
from __future__ import annotations

import os

from oms.adapters import secrets
from oms.services.ports import CarrierLabel, CarrierRate, CarrierRejected, CarrierUnavailable

GRAMS_PER_OUNCE = 28.349523125
CM_PER_INCH = 2.54
TIMEOUT_SECONDS = 20


class EasyPostLabels:
    def __init__(self):
        self._client = None

    def client(self):
        if self._client is None:
            import easypost

            base = os.environ.get("OMS_EASYPOST_API_BASE") or "https://api.easypost.com/v2"
            try:
                key = secrets.carrier_key("easypost")
            except secrets.MissingSecret as missing:  # the OMS's configuration, not the caller's request
                raise CarrierUnavailable(f"no EasyPost API key is configured ({missing})") from None
            self._client = easypost.EasyPostClient(key, api_base=base, timeout=TIMEOUT_SECONDS)
        return self._client

    def quote(self, from_address: dict, to_address: dict, parcel: dict,
              reference: str) -> tuple[str, list[CarrierRate]]:
        shipment = self._call(lambda c: c.shipment.create(
            to_address=_address(to_address), from_address=_address(from_address), reference=reference,
            parcel={"length": _inches(parcel["length"]), "width": _inches(parcel["width"]),
                    "height": _inches(parcel["height"]), "weight": round(parcel["weight_grams"] / GRAMS_PER_OUNCE, 1)}))
        return shipment.id, [_rate(rate) for rate in shipment.rates or []]

    def buy(self, shipment_id: str, rate_id: str, label_format: str) -> CarrierLabel:
        shipment = self._call(lambda c: c.shipment.retrieve(shipment_id))
        if not getattr(shipment, "postage_label", None):
            try:
                shipment = self._call(lambda c: c.shipment.buy(shipment_id, rate={"id": rate_id}))
            except CarrierRejected:
                shipment = self._call(lambda c: c.shipment.retrieve(shipment_id))
                if not getattr(shipment, "postage_label", None):
                    raise
                # another request bought it between our read and our buy: that label is ours
        url = _label_url(shipment.postage_label, label_format)
        if url is None:
            shipment = self._call(lambda c: c.shipment.label(shipment_id, file_format=label_format))
            url = _label_url(shipment.postage_label, label_format)
        rate = shipment.selected_rate
        return CarrierLabel(shipment.id, shipment.tracking_code, rate.carrier, rate.service, rate.rate,
                            rate.currency, url or shipment.postage_label.label_url, label_format)

    def void(self, shipment_id: str) -> str:
        shipment = self._call(lambda c: c.shipment.retrieve(shipment_id))
        if getattr(shipment, "refund_status", None):
            return shipment.refund_status  # asked before
        return self._call(lambda c: c.shipment.refund(shipment_id)).refund_status

    def _call(self, action):
        from easypost.errors import (
            ApiError,
            BadRequestError,
            ForbiddenError,
            InvalidRequestError,
            NotFoundError,
            PaymentError,
            UnauthorizedError,
        )

        from oms.observability import metrics

        try:
            return action(self.client())
        except (BadRequestError, InvalidRequestError, NotFoundError, PaymentError, UnauthorizedError,
                ForbiddenError) as refusal:
            metrics.count("CarrierCallFailures", dimension="easypost")
            raise CarrierRejected(f"EasyPost refused: {getattr(refusal, 'message', refusal)}") from None
        except ApiError as error:  # 429, 5xx, timeouts, connection errors
            metrics.count("CarrierCallFailures", dimension="easypost")
            raise CarrierUnavailable(f"EasyPost: {getattr(error, 'message', error)}") from None


def _address(address: dict) -> dict:
    return {"name": address.get("name") or "", "street1": address.get("line1") or "",
            "street2": address.get("line2") or "", "city": address.get("city") or "",
            "state": address.get("region") or "", "zip": address.get("postal_code") or "",
            "country": (address.get("country") or "").upper(), "phone": address.get("phone") or ""}


def _inches(cm: float) -> float:
    return round(cm / CM_PER_INCH, 1)


def _rate(rate) -> CarrierRate:
    days = getattr(rate, "delivery_days", None) or getattr(rate, "est_delivery_days", None)
    return CarrierRate(rate.id, rate.carrier, rate.service, rate.rate, rate.currency,
                       int(days) if days is not None else None)


def _label_url(label, label_format: str) -> str | None:
    field = {"PDF": "label_pdf_url", "ZPL": "label_zpl_url", "EPL2": "label_epl2_url"}.get(label_format)
    if field is None:
        return label.label_url  # PNG, EasyPost's default
    return getattr(label, field, None) or None
