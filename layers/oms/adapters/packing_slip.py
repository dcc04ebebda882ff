"""The packing slip of a fulfilment order as a PDF (pydyf, a small PDF writer): the order number,
the ship-to name and address, and each SKU with its name and quantity, in Helvetica on A4 pages.

Helvetica is one of PDF's standard fonts (nothing to embed), written in WinAnsi (cp1252): a
character outside it is written without its accent where it has one (Ł -> L), else as "?"."""
from __future__ import annotations

import io
import unicodedata

import pydyf

from oms.domain.order import Order

PAGE = (595, 842)  # A4 in points
MARGIN, LEADING = 50, 16
COLUMNS = (MARGIN, 200, 480)  # SKU, name, quantity


def packing_slip_pdf(order: Order, fulfillment_order_id: str) -> bytes:
    fo = order.fulfillment_order(fulfillment_order_id)
    group = next(g for g in order.delivery_groups if g.group_id == fo.delivery_group)
    address = group.shipping_address or {}
    head = [(f"Packing slip - order {order.order_number}", 16), (f"Fulfilment order {fo.fulfillment_order_id}", 10),
            ("", 10), ("Ship to", 12)]
    city = " ".join(part for part in (address.get("postal_code"), address.get("city"), address.get("region")) if part)
    head += [(text, 11) for text in (address.get("name"), address.get("line1"), address.get("line2"), city,
                                     address.get("country")) if text]
    names = {line.line_id: line.name for line in order.lines}
    rows = [(fl["sku"], names.get(fl["line_id"], ""), str(fl.get("picked", fl["quantity"] - fl["shipped"])))
            for fl in fo.lines if fl["quantity"] > fl["shipped"] or fl.get("picked")]
    return _render(head, [("SKU", "Item", "Quantity"), *rows])


def _render(head: list[tuple[str, int]], table: list[tuple[str, str, str]]) -> bytes:
    document = pydyf.PDF()
    font = pydyf.Dictionary({"Type": "/Font", "Subtype": "/Type1", "BaseFont": "/Helvetica",
                             "Encoding": "/WinAnsiEncoding"})
    document.add_object(font)
    resources = pydyf.Dictionary({"Font": pydyf.Dictionary({"F1": font.reference})})
    pages: list[pydyf.Stream] = []
    stream, y = None, 0

    def new_page():
        nonlocal stream, y
        stream, y = pydyf.Stream(), PAGE[1] - MARGIN
        pages.append(stream)

    def write(x: float, text: str, size: int) -> None:
        stream.begin_text()
        stream.set_font_size("F1", size)
        stream.set_text_matrix(1, 0, 0, 1, x, y)
        stream.show_text_string(_winansi(text))
        stream.end_text()

    new_page()
    for text, size in head:
        write(MARGIN, text, size)
        y -= LEADING + (size - 10)
    y -= LEADING
    for n, row in enumerate(table):
        if y < MARGIN:
            new_page()
        for x, text in zip(COLUMNS, row, strict=True):
            write(x, text[:60], 10)
        y -= LEADING + (4 if n == 0 else 0)
    for stream in pages:
        document.add_object(stream)
        document.add_page(pydyf.Dictionary({
            "Type": "/Page", "Parent": document.pages.reference, "MediaBox": pydyf.Array([0, 0, *PAGE]),
            "Contents": stream.reference, "Resources": resources}))
    out = io.BytesIO()
    document.write(out)
    return out.getvalue()


def _winansi(text: str) -> bytes:
    plain = "".join(ch if _encodable(ch) else unicodedata.normalize("NFKD", ch)[0] for ch in text)
    return plain.encode("cp1252", errors="replace")


def _encodable(ch: str) -> bool:
    try:
        ch.encode("cp1252")
    except UnicodeEncodeError:
        return False
    return True
