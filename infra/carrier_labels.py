"""The local carrier service's label files: a 4x6 in label as PDF, PNG, ZPL or EPL2, written
with the standard library only (see infra/local_carrier.py)."""
from __future__ import annotations

import struct
import zlib

# file_format -> (file extension, label_file_type, the PostageLabel field holding its URL)
FORMATS = {"PNG": ("png", "image/png", "label_url"), "PDF": ("pdf", "application/pdf", "label_pdf_url"),
           "ZPL": ("zpl", "application/zpl", "label_zpl_url"), "EPL2": ("epl2", "application/epl2", "label_epl2_url")}
CONTENT_TYPES = {"png": "image/png", "pdf": "application/pdf", "zpl": "text/plain; charset=utf-8",
                 "epl2": "text/plain; charset=utf-8"}
# A parcel's journey: (status, status_detail, message, where: the sender's or the recipient's town)


def place(address: dict | None) -> str:
    if not address:
        return ""
    return " ".join(str(address.get(key)) for key in ("city", "state", "zip", "country") if address.get(key))


def label_text(shipment: dict) -> dict:
    def lines(address: dict) -> list[str]:
        town = " ".join(part for part in (address["city"], address["state"], address["zip"]) if part)
        return [part for part in (address["name"], address["company"], address["street1"], address["street2"],
                                  town, address["country"]) if part]
    rate = shipment["selected_rate"]
    return {"carrier": rate["carrier"], "service": rate["service"], "tracking_code": shipment["tracking_code"],
            "to": lines(shipment["to_address"]), "from": lines(shipment["from_address"]),
            "weight": f"{shipment['parcel']['weight']:g} OZ", "date": shipment["postage_label"]["label_date"][:10],
            "reference": shipment["reference"] or ""}


def _bars(code: str) -> str:
    """A barcode-like strip of modules (1 black, 0 white) from the code's bits: it looks the part,
    but is not a scannable symbology (the ZPL and EPL2 labels carry a real Code 128)."""
    return "11010" + "".join(format(ord(char), "08b") + "0" for char in code) + "1100011"


def _pdf(text: dict) -> bytes:
    """A one-page 4x6 in PDF written by hand: the standard Helvetica fonts (no embedding), text
    and filled rectangles only."""
    def say(x: int, y: int, font: str, size: int, words: str) -> str:
        raw = words.encode("cp1252", "replace").decode("latin-1")  # WinAnsiEncoding
        raw = raw.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
        return f"BT /{font} {size} Tf {x} {y} Td ({raw}) Tj ET"

    ops = ["0.8 w 8 8 272 416 re S", say(20, 396, "F2", 20, text["carrier"]), say(20, 380, "F1", 11, text["service"]),
           say(196, 396, "F1", 8, text["date"]), say(196, 384, "F1", 8, text["weight"]), "20 370 248 1.2 re f",
           say(20, 356, "F2", 7, "FROM:")]
    ops += [say(20, 346 - 9 * n, "F1", 7, line) for n, line in enumerate(text["from"][:5])]
    ops += [say(20, 282, "F2", 9, "SHIP TO:")]
    ops += [say(32, 266 - 15 * n, "F2" if n == 0 else "F1", 12, line) for n, line in enumerate(text["to"][:6])]
    ops += ["20 160 248 1.2 re f", say(20, 146, "F2", 9, "TRACKING #"), say(20, 132, "F1", 11, text["tracking_code"])]
    modules = _bars(text["tracking_code"])
    width = 248 / len(modules)
    ops += [f"{20 + n * width:.2f} 58 {width:.2f} 66 re f" for n, bit in enumerate(modules) if bit == "1"]
    if text["reference"]:
        ops.append(say(20, 44, "F1", 7, f"Ref: {text['reference']}"))
    ops.append(say(20, 20, "F1", 6, "OMS local carrier (EasyPost stand-in): not valid postage"))
    stream = "\n".join(ops).encode("latin-1")
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 288 432] /Contents 6 0 R"
               b" /Resources << /Font << /F1 4 0 R /F2 5 0 R >> >> >>",
               b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
               b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold /Encoding /WinAnsiEncoding >>",
               b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream)]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def _png(text: dict) -> bytes:
    """A 4x6 in label at 203 dpi, 1 bit per pixel: border, rules and the barcode-like strip. It has
    no words (the standard library has no font to draw them); the PDF, ZPL and EPL2 labels do."""
    width, height, margin = 812, 1218, 40
    modules = _bars(text["tracking_code"])
    module = max(1, (width - 2 * margin) // len(modules))

    def row(black) -> bytes:  # 0 is black in a grayscale PNG; a row starts with its filter type
        bits = "".join("0" if black(x) else "1" for x in range(width)).ljust(816, "1")
        return b"\x00" + int(bits, 2).to_bytes(102, "big")

    border = 8
    edge = row(lambda x: x < border or x >= width - border)
    full = row(lambda x: True)
    rule = row(lambda x: x < border or x >= width - border or margin <= x < width - margin)
    bars = row(lambda x: x < border or x >= width - border
               or (margin <= x < margin + module * len(modules) and modules[(x - margin) // module] == "1"))
    rows = [full if y < border or y >= height - border else rule if 240 <= y < 246 or 760 <= y < 766
            else bars if 820 <= y < 1060 else edge for y in range(height)]

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"".join(rows), 9)) + chunk(b"IEND", b""))


def _zpl(text: dict) -> bytes:
    """ZPL II for a 4x6 in label at 203 dpi; ^BC prints the tracking code as a real Code 128."""
    def field(x: int, y: int, size: int, words: str) -> str:
        return f"^FO{x},{y}^A0N,{size},{size}^FD{words.replace('^', ' ').replace('~', ' ')}^FS"

    lines = ["^XA", "^CI28", "^FO20,20^GB772,1178,4^FS", field(40, 40, 56, text["carrier"]),
             field(40, 110, 32, text["service"]), field(560, 40, 24, text["date"]), field(560, 74, 24, text["weight"]),
             "^FO40,160^GB732,4,4^FS", field(40, 180, 22, "FROM:")]
    lines += [field(40, 210 + 26 * n, 22, line) for n, line in enumerate(text["from"][:5])]
    lines += [field(40, 370, 28, "SHIP TO:")]
    lines += [field(70, 410 + 44 * n, 40, line) for n, line in enumerate(text["to"][:6])]
    lines += ["^FO40,700^GB732,4,4^FS", field(40, 720, 28, "TRACKING #"),
              f"^FO60,770^BY3^BCN,220,Y,N,N^FD{text['tracking_code']}^FS",
              field(40, 1120, 20, "OMS local carrier (EasyPost stand-in): not valid postage"), "^XZ"]
    return ("\n".join(lines) + "\n").encode()


def _epl2(text: dict) -> bytes:
    """EPL2 for a 4x6 in label at 203 dpi; B...1 prints the tracking code as Code 128."""
    def field(x: int, y: int, font: int, words: str) -> str:
        return f'A{x},{y},0,{font},1,1,N,"{words.replace(chr(92), "/").replace(chr(34), chr(39))}"'

    lines = ["", "N", "q812", "Q1218,24", field(40, 40, 5, text["carrier"]), field(40, 110, 3, text["service"]),
             field(560, 40, 2, text["date"]), field(560, 74, 2, text["weight"]), field(40, 180, 2, "FROM:")]
    lines += [field(40, 210 + 26 * n, 2, line) for n, line in enumerate(text["from"][:5])]
    lines += [field(40, 370, 3, "SHIP TO:")]
    lines += [field(70, 410 + 44 * n, 4, line) for n, line in enumerate(text["to"][:6])]
    lines += [field(40, 720, 3, "TRACKING #"), f'B60,770,0,1,3,6,220,B,"{text["tracking_code"]}"', "P1"]
    return ("\n".join(lines) + "\n").encode()


LABEL_WRITERS = {"PNG": _png, "PDF": _pdf, "ZPL": _zpl, "EPL2": _epl2}
