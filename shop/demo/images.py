"""Product illustrations drawn with Pillow: a flat picture of the kind of thing
it is, in colours chosen from the product's slug, so every product has its own."""

from __future__ import annotations

import hashlib
from io import BytesIO

from PIL import Image, ImageDraw

SIZE = 640
PALETTES = [
    ((244, 236, 222), (182, 92, 60), (47, 72, 88)),
    ((232, 240, 234), (46, 111, 94), (214, 162, 72)),
    ((240, 232, 240), (120, 72, 120), (230, 180, 120)),
    ((236, 238, 246), (52, 76, 140), (224, 120, 96)),
    ((246, 240, 226), (150, 110, 60), (70, 90, 70)),
]


def _palette(slug: str):
    digest = hashlib.sha256(slug.encode()).digest()
    return PALETTES[digest[0] % len(PALETTES)], digest


def _bag(d: ImageDraw.ImageDraw, main, accent):
    d.arc((210, 90, 430, 330), 180, 360, fill=accent, width=22)
    d.rounded_rectangle((150, 210, 490, 560), 18, fill=main)
    d.rectangle((150, 210, 490, 250), fill=accent)


def _shirt(d, main, accent):
    d.polygon([(200, 130), (270, 110), (320, 150), (370, 110), (440, 130), (540, 220),
               (480, 280), (450, 250), (450, 560), (190, 560), (190, 250), (160, 280),
               (100, 220)], fill=main)  # fmt: skip
    d.rectangle((190, 300, 450, 330), fill=accent)


def _tie(d, main, accent):
    d.polygon([(290, 90), (350, 90), (365, 140), (320, 170), (275, 140)], fill=accent)
    d.polygon([(300, 165), (340, 165), (400, 480), (320, 570), (240, 480)], fill=main)


def _card_holder(d, main, accent):
    d.rounded_rectangle((130, 250, 510, 470), 24, fill=main)
    d.rectangle((170, 200, 470, 300), fill=(250, 250, 250), outline=accent, width=4)
    for x in range(190, 460, 45):
        d.ellipse((x, 360, x + 30, 390), outline=accent, width=5)


def _jewellery(d, main, accent):
    d.arc((150, 90, 490, 470), 20, 160, fill=accent, width=8)
    d.polygon([(320, 440), (360, 500), (320, 570), (280, 500)], fill=main)


def _home(d, main, accent):
    d.rounded_rectangle((140, 150, 500, 510), 40, fill=main)
    for y in range(200, 470, 60):
        d.line((170, y, 470, y), fill=accent, width=10)


SHAPES = {
    "bags": _bag,
    "clothing": _shirt,
    "accessories": _card_holder,
    "jewellery": _jewellery,
    "home": _home,
}


def draw_product_image(
    slug: str, category_slug: str, close_up: bool = False
) -> tuple[bytes, int, int]:
    """A PNG illustration: its bytes, width and height. `close_up`: a second picture, the
    middle of the first enlarged, so product pages have a gallery to show."""
    (background, main, accent), digest = _palette(slug)
    image = Image.new("RGB", (SIZE, SIZE), background)
    draw = ImageDraw.Draw(image)
    for i in range(6):  # a quiet pattern of dots, different for every slug
        x, y = 40 + digest[i + 1] * 2 % 560, 40 + digest[i + 7] * 2 % 560
        draw.ellipse((x, y, x + 18, y + 18), fill=accent)
    shape = _tie if "tie" in slug else SHAPES.get(category_slug, _bag)
    shape(draw, main, accent)
    if close_up:
        image = image.crop((160, 160, 480, 480)).resize((SIZE, SIZE), Image.Resampling.LANCZOS)
        draw = ImageDraw.Draw(image)
        for i in range(3):  # its own dots, so no two products' close-ups are alike
            x, y = 20 + digest[i + 13] * 2 % 600, 20 + digest[i + 19] * 2 % 600
            draw.ellipse((x, y, x + 24, y + 24), fill=accent)
    out = BytesIO()
    image.save(out, "PNG", optimize=True)
    return out.getvalue(), *image.size
