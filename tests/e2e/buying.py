"""Steps a buyer takes in the browser, shared by the browser tests of the cart, checkout
and pay page (the dummy gateway: 4242 4242 4242 4242 pays)."""

from __future__ import annotations

PAYING_CARD = "4242 4242 4242 4242"
LONG_NAME = "Block-Print T-Shirt"  # the name that broke as "Block- / Print / T- / Shirt"
LONG_NAME_SLUG = "block-print-tshirt"  # only 10 in the demo's stock: buy one at a time
TOTE, TOTE_SLUG = "Buy Her Bag Tote", "buy-her-bag-tote"  # 70 in stock
# A name with words wider than a phone's line: they must break, and only they (WCAG 1.4.10).
LONGEST_WORD = "Supercalifragilisticexpialidociously"  # 36 letters
LONG_WORDS_NAME = f"Handgeknüpfter Schlüsselanhängerbeutel {LONGEST_WORD}"
LONG_WORDS_SLUG = "knotted-key-pouch"
# The product, as `flask catalog import` and `flask batches import` take it: two sizes at
# one price (four figures, so the totals are wide too), 20 of each.
LONG_WORDS_IMPORTS = (
    ("catalog",
     "product_slug,product_name,category,description,story,impact_share_bps,status,"
     "workshop_slug,sku,options,price,currency\n"
     + "".join(f"{LONG_WORDS_SLUG},{LONG_WORDS_NAME},Bags,A hand-knotted key pouch.,Knotted by "
               f"hand.,1000,active,mekong-stitch-works,POUCH-KNOT-{size},size={size},1234.57,USD\n"
               for size in ("S", "L"))),
    ("batches",
     "code,workshop_slug,sku,quantity,produced_month,materials,makers\n"
     + "".join(f"MS-2026-05-KNOT-{size},mekong-stitch-works,POUCH-KNOT-{size},20,2026-05,"
               "cotton cord,KH-MS-001:1\n" for size in ("S", "L"))),
)  # fmt: skip
BUYER = {  # the keyboard test types these into a French address
    "Email": "phone.buyer@example.com",
    "Full name": "Ana Buyer",
    "Address": "12 Long Street",
    "City": "Lyon",
    "Postcode": "69001",
}
# The checkout's own country (the United States): its fields are there from the start, so
# Back from the pay page lands on a page got by GET, as a buyer's would.
US_BUYER = {
    "Email": "phone.buyer@example.com",
    "Full name": "Ana Buyer",
    "Address": "12 Long Street",
    "City": "San Francisco",
    "ZIP code": "94107",
}


def add_to_cart(page, base: str, slug: str = TOTE_SLUG, quantity: str = "1") -> None:
    page.goto(f"{base}/products/{slug}")
    page.get_by_label("Quantity").fill(quantity)
    page.get_by_role("button", name="Add to cart").click()
    page.wait_for_url(f"{base}/cart")


def fill_checkout(page, **changes: str) -> None:
    for label, value in {**US_BUYER, **changes}.items():
        page.get_by_label(label, exact=True).fill(value)
    page.get_by_label("State").select_option("CA")


def place_order(page, base: str) -> str:
    """From a cart with items: check out and place the order; returns the pay page's URL."""
    page.goto(f"{base}/checkout")
    fill_checkout(page)
    page.get_by_role("button", name="Place order and pay").click()
    page.wait_for_url("**/pay")
    return page.url


def pay(page) -> None:
    """On the pay page: pay with the dummy gateway's paying card."""
    page.get_by_label("Card number").fill(PAYING_CARD)
    page.get_by_role("button", name="Pay").click()
    page.wait_for_selector("text=your payment went through")
