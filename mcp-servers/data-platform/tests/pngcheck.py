"""A tiny PNG decoder (zlib only) for tests: size, and whether a picture is more than one colour.

Handles what our renderer and Chromium write: 8-bit greyscale, RGB, RGBA (and grey+alpha),
not interlaced. Filters are undone per scanline as the PNG spec says.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

CHANNELS = {0: 1, 2: 3, 4: 2, 6: 4}


@dataclass
class Png:
    width: int
    height: int
    channels: int
    pixels: bytes  # rows of width*channels bytes, filters undone

    def colours(self, limit: int = 64) -> set[bytes]:
        """Distinct pixel values (stops counting at `limit`)."""
        seen: set[bytes] = set()
        c = self.channels
        step = max(1, self.width * self.height // 200_000)  # sample big pictures
        for i in range(0, self.width * self.height, step):
            seen.add(self.pixels[i * c : i * c + c])
            if len(seen) >= limit:
                break
        return seen

    def share_of(self, pixel: bytes) -> float:
        """The share of pixels exactly this colour (every k-th pixel of a big picture)."""
        c = self.channels
        n = self.width * self.height
        step = max(1, n // 200_000)
        seen = range(0, n, step)
        return sum(1 for i in seen if self.pixels[i * c : i * c + c] == pixel) / len(seen)


def decode(data: bytes) -> Png:
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat = 8, []
    width = height = depth = ctype = interlace = 0
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
        pos += 12 + length
    assert depth == 8 and ctype in CHANNELS and not interlace, (depth, ctype, interlace)
    c = CHANNELS[ctype]
    raw = zlib.decompress(b"".join(idat))
    stride = width * c
    out = bytearray(height * stride)
    prev = bytearray(stride)
    for y in range(height):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for x in range(stride):
            a = line[x - c] if x >= c else 0
            b = prev[x]
            cc = prev[x - c] if x >= c else 0
            if f == 1:
                line[x] = (line[x] + a) & 0xFF
            elif f == 2:
                line[x] = (line[x] + b) & 0xFF
            elif f == 3:
                line[x] = (line[x] + (a + b) // 2) & 0xFF
            elif f == 4:
                p = a + b - cc
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - cc)
                pred = a if pa <= pb and pa <= pc else b if pb <= pc else cc
                line[x] = (line[x] + pred) & 0xFF
        out[y * stride : (y + 1) * stride] = line
        prev = line
    return Png(width, height, c, bytes(out))


def assert_picture(data: bytes, min_width: int = 200, min_height: int = 100) -> Png:
    """A real picture: decodes, is at least this big, and is not one colour."""
    png = decode(data)
    assert png.width >= min_width and png.height >= min_height, (png.width, png.height)
    assert len(png.colours()) > 2, "the picture is (nearly) one colour"
    return png
