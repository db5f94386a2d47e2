"""What the product page makes of a product: its choices (a group per option, named after
it: "Size", "Colour"), the price line, the share that goes to the makers, and what it
tells search engines and link previews (absolute links, JSON-LD Product and Offers).

Plain functions of what the view already loaded: no statement of their own, so the
page's query budget stays where it was. Every link here is built from PUBLIC_BASE_URL
(shop.web.site_url), never from the request's Host: the page cache serves the page to
every visitor.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import quote

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext

from shop.catalog.images import derivative_key, parse_widths
from shop.money import apply_bps, money_text, to_major
from shop.web import site_url

OPTION_FIELD = "option."  # a form field "option.size" carries the value chosen for "size"
SINGLE_FIELD = "variant_id"  # or the variant itself, when options cannot tell them apart
LOW_STOCK = 5  # "Only 3 left" at or below this
IN_STOCK = _l("In stock")
TYPED_KEEP = 12  # characters of a typed quantity shown back with its error


@dataclass(frozen=True)
class AddAttempt:
    """An "Add to cart" the cart refused, shown back on the product page: what was
    chosen and typed, and the problem beside the field it concerns."""

    message: str
    field: str  # "quantity" or "options"
    quantity: str = "1"
    chosen: Mapping[str, str] = field(default_factory=dict)
    variant_id: int | None = None


@dataclass(frozen=True)
class Choice:
    value: str  # what the form posts
    label: str  # what the buyer reads
    note: str  # price and availability, where they differ between the choices
    available: bool
    checked: bool


@dataclass(frozen=True)
class OptionGroup:
    name: str  # the option's name as a heading: "Size"
    field: str  # the form field: "option.size", or "variant_id"
    choices: list[Choice]


def options_text(options: Mapping) -> str:
    """{"size": "45 cm"} -> "Size: 45 cm", for a product with nothing to choose."""
    return ", ".join(f"{first_capital(str(k))}: {v}" for k, v in options.items())


def first_capital(text: str) -> str:
    """'colour' -> 'Colour', '45 cm' as it is: what admins typed, begun with a capital."""
    text = text.strip()
    return text[:1].upper() + text[1:]


def chosen_options(form: Mapping[str, str]) -> dict[str, str]:
    """The options a posted form chose: {"size": "M"} from "option.size=M"."""
    return {
        name[len(OPTION_FIELD) :]: value
        for name, value in form.items()
        if name.startswith(OPTION_FIELD)
    }


def matches(options: Mapping | None, chosen: Mapping[str, str]) -> bool:
    """Whether a variant's options are exactly those chosen. The one rule for telling a
    variant by its options, on the page and in the cart."""
    options = options or {}
    return bool(chosen) and {str(k): str(v) for k, v in options.items()} == dict(chosen)


def _keys(variants: list[dict]) -> list[str] | None:
    """The option names every variant has, in the order admins wrote them; None when the
    variants cannot be told apart by them (missing or different names, or two alike)."""
    first = list(variants[0]["options"])
    if not first or any(set(v["options"]) != set(first) for v in variants):
        return None
    seen = {tuple(str(v["options"][k]) for k in first) for v in variants}
    return first if len(seen) == len(variants) else None


def availability(available: bool, stock: int) -> str:
    """What a buyer is told of a variant's stock."""
    if not available:
        return _("Sold out") if stock <= 0 else _("Unavailable")
    if stock <= LOW_STOCK:
        return ngettext("Only %(num)d left", "Only %(num)d left", stock)
    return str(IN_STOCK)


def _selected(variants: list[dict], attempt: AddAttempt | None) -> dict | None:
    """The variant the form starts on: the one tried, else the first a buyer can take."""
    if attempt is not None:
        for v in variants:
            if v["id"] == attempt.variant_id or matches(v["options"], attempt.chosen):
                return v
    return next((v for v in variants if v["available"]), None)


def option_groups(variants: list[dict], attempt: AddAttempt | None = None) -> list[OptionGroup]:
    """The choices the "Add to cart" form offers: a group of radio buttons per option.

    Where the product has one option, each choice is one variant and shows its price
    (when prices differ) and availability. With several (size and colour), a value is
    offered while any variant with it can be bought, and the cart says when a
    combination cannot. A product with one variant needs no choice; variants their
    options cannot tell apart are offered one by one, by id."""
    if len(variants) <= 1:  # nothing to choose: its options are said as text
        return []
    selected = _selected(variants, attempt)
    keys = _keys(variants)
    if keys is None or len(keys) == 1:
        key = keys[0] if keys else None
        prices_differ = len({(v["price"], v["currency"]) for v in variants}) > 1
        choices = []
        for v in variants:
            price = money_text(v["price"], v["currency"]) if prices_differ else ""
            value = str(v["options"][key]) if key else str(v["id"])
            label = first_capital(str(v["options"][key])) if key else v["label"]
            stock = v["status"] if v["status"] != str(IN_STOCK) else ""  # what sets it apart
            note = " · ".join(filter(None, [price, stock]))
            choices.append(Choice(value, label, note, v["available"], v is selected))
        if key is None:
            return [OptionGroup(_("Option"), SINGLE_FIELD, choices)]
        return [OptionGroup(first_capital(key), OPTION_FIELD + key, choices)]
    groups = []
    for key in keys:
        offered: dict[str, bool] = {}
        for v in variants:
            value = str(v["options"][key])
            offered[value] = offered.get(value, False) or v["available"]
        if attempt is not None and attempt.chosen:  # as sent, made or not
            picked = attempt.chosen.get(key)
        else:
            picked = str(selected["options"][key]) if selected else None
        choices = [
            Choice(
                value,
                first_capital(value),
                "" if available else _("Sold out"),
                available,
                value == picked,
            )
            for value, available in offered.items()
        ]
        groups.append(OptionGroup(first_capital(key), OPTION_FIELD + key, choices))
    return groups


@dataclass(frozen=True)
class PriceLine:
    lowest: int
    currency: str
    varies: bool  # "From $16.00"
    share: int  # what the makers' training accounts get of the lowest price
    share_bps: int


def price_line(variants: list[dict], impact_share_bps: int) -> PriceLine | None:
    """The price under the title: the lowest a buyer can pay now, that is of the variants
    that can be bought (of all of them when none can), and "From" only when those prices
    differ. A sold-out $0.99 variant beside a $1,234.57 one is not "From $0.99". The rule
    of the listing's tiles too (shop.catalog.storefront: shown_price)."""
    if not variants:
        return None
    offered = [v for v in variants if v["available"]] or variants
    cheapest = min(offered, key=lambda v: v["price"])
    varies = len({v["price"] for v in offered}) > 1
    return PriceLine(
        cheapest["price"], cheapest["currency"], varies,
        apply_bps(cheapest["price"], impact_share_bps), impact_share_bps,
    )  # fmt: skip


# --- What search engines and link previews read ---------------------------------------


def image_url(image) -> str:
    """An absolute link to a picture for other sites: its largest JPEG copy up to 1280 px
    (link previews do not all read WebP), or the original until the copies are made."""
    widths = [w for w in parse_widths(image.derivative_widths) if w <= 1280]
    key = derivative_key(image.filename, max(widths), "jpg") if widths else image.filename
    base = current_app.config.get("MEDIA_BASE_URL")
    if base:
        return f"{base}/{quote(key)}"
    return site_url("web.media", filename=key)


def structured_data(product, variants: list[dict], images: list[str], store_name: str) -> dict:
    """schema.org Product with an Offer per variant, as Shopify's Dawn theme writes it:
    what a search engine shows as the price, currency and availability. A variant's GTIN
    (kept as 14 digits) is its Offer's `gtin14`, and the Product's when it has one variant."""
    url = site_url("catalog.product", slug=product.slug)
    data = {
        "@context": "https://schema.org",
        "@type": "Product",
        "name": product.name,
        "description": product.description or product.name,
        "url": url,
        "brand": {"@type": "Brand", "name": store_name},
        "offers": [
            {
                "@type": "Offer",
                "sku": v["sku"],
                "name": v["label"],
                "price": str(to_major(v["price"], v["currency"])),
                "priceCurrency": v["currency"],
                "availability": "https://schema.org/"
                + ("InStock" if v["available"] else "OutOfStock"),
                "itemCondition": "https://schema.org/NewCondition",
                "url": url,
                **({"gtin14": v["gtin"]} if v.get("gtin") else {}),
            }
            for v in variants
        ],
    }
    if len(variants) == 1 and variants[0].get("gtin"):
        data["gtin14"] = variants[0]["gtin"]
    if images:
        data["image"] = images
    if product.category is not None:
        data["category"] = product.category.name
    return data
