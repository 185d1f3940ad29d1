"""Decode a PNG in tests (Pillow): its size, its colours, and whether it is more than one colour."""

from __future__ import annotations

import io
from collections import Counter
from dataclasses import dataclass

from PIL import Image


@dataclass
class Png:
    width: int
    height: int
    counts: Counter[tuple[int, int, int, int]]  # RGBA pixel -> how many

    def share_of(self, rgba: tuple[int, int, int, int]) -> float:
        """The share of pixels exactly this colour."""
        return self.counts[rgba] / (self.width * self.height)


def decode(data: bytes) -> Png:
    image = Image.open(io.BytesIO(data))
    assert image.format == "PNG", image.format
    image = image.convert("RGBA")
    counts = Counter({colour: n for n, colour in image.getcolors(maxcolors=image.width * image.height)})
    return Png(image.width, image.height, counts)


def assert_picture(data: bytes, min_width: int = 200, min_height: int = 100) -> Png:
    """A real picture: decodes, is at least this big, and no one colour covers (nearly) all of it."""
    png = decode(data)
    assert png.width >= min_width and png.height >= min_height, (png.width, png.height)
    top = png.counts.most_common(1)[0][1] / (png.width * png.height)
    assert len(png.counts) > 2 and top < 0.99, f"one colour covers {top:.1%} of the picture"
    return png
