"""Render the app icon from resources/icons/rwkv-desktop.svg into every size the installers need.

    .venv/bin/python packaging/icons/make_icons.py

Writes resources/icons/rwkv-desktop-<N>.png (16 ... 512: the Linux hicolor theme and the app's
window icon), packaging/icons/rwkv-desktop.ico (Windows: exe and installer) and
packaging/icons/rwkv-desktop.icns (macOS .app). ICO and ICNS entries hold PNG data, which every
Windows since Vista and every macOS since 10.7 read. Rendering uses Qt's SVG renderer, so nothing
else is needed. The outputs are committed; rerun this after editing the SVG.
"""

from __future__ import annotations

import os
import struct
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SVG = ROOT / "resources" / "icons" / "rwkv-desktop.svg"
PNG_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)
ICO_SIZES = (16, 24, 32, 48, 64, 128, 256)
# ICNS element types holding PNG data, by pixel size (several types share a size: @2x variants).
ICNS_TYPES = (("icp4", 16), ("icp5", 32), ("icp6", 64), ("ic07", 128), ("ic08", 256), ("ic09", 512),
              ("ic10", 1024), ("ic11", 32), ("ic12", 64), ("ic13", 256), ("ic14", 512))


def render(size: int) -> bytes:
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice
    from PySide6.QtGui import QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    renderer = QSvgRenderer(str(SVG))
    if not renderer.isValid():
        raise SystemExit(f"cannot read {SVG}")
    image = QImage(size, size, QImage.Format.Format_ARGB32)
    image.fill(0)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter)
    painter.end()
    data = QByteArray()
    buf = QBuffer(data)
    buf.open(QIODevice.OpenModeFlag.WriteOnly)
    image.save(buf, "PNG")
    buf.close()
    return bytes(data)


def ico(pngs: dict[int, bytes]) -> bytes:
    """ICONDIR, one ICONDIRENTRY per size, then the PNG payloads (width/height 0 means 256)."""
    sizes = sorted(pngs)
    out = struct.pack("<HHH", 0, 1, len(sizes))
    offset = 6 + 16 * len(sizes)
    payload = b""
    for s in sizes:
        out += struct.pack("<BBBBHHII", s % 256, s % 256, 0, 0, 1, 32, len(pngs[s]), offset + len(payload))
        payload += pngs[s]
    return out + payload


def icns(pngs: dict[int, bytes]) -> bytes:
    """'icns', total length, then (type, length incl. 8-byte header, PNG) elements, big-endian."""
    body = b"".join(kind.encode() + struct.pack(">I", 8 + len(pngs[s])) + pngs[s] for kind, s in ICNS_TYPES)
    return b"icns" + struct.pack(">I", 8 + len(body)) + body


def main() -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtGui import QGuiApplication

    app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])  # noqa: F841  (fonts, image plugins)
    sizes = sorted(set(PNG_SIZES) | set(ICO_SIZES) | {s for _, s in ICNS_TYPES})
    pngs = {s: render(s) for s in sizes}
    for s in PNG_SIZES:
        (ROOT / "resources" / "icons" / f"rwkv-desktop-{s}.png").write_bytes(pngs[s])
    here = ROOT / "packaging" / "icons"
    (here / "rwkv-desktop.ico").write_bytes(ico({s: pngs[s] for s in ICO_SIZES}))
    (here / "rwkv-desktop.icns").write_bytes(icns(pngs))
    print(f"wrote {len(PNG_SIZES)} PNGs, rwkv-desktop.ico and rwkv-desktop.icns")
    return 0


if __name__ == "__main__":
    sys.exit(main())
