"""The fonts for Khmer, Devanagari and Bengali are the store's own (static/fonts/, with
their licence), declared in site.css and fetched from the store: no font CDN anywhere,
and the CSP lets fonts come from the store only."""

from __future__ import annotations

import re
from pathlib import Path

from shop import ROOT
from shop.web import content_security_policy

FONTS = ROOT / "static" / "fonts"
CSS = (ROOT / "static" / "css" / "site.css").read_text(encoding="utf-8")
FAMILIES = ("Noto Sans Khmer", "Noto Sans Devanagari", "Noto Sans Bengali")
# An address on a font or script CDN, in a template, a stylesheet or a script.
CDN = re.compile(
    r"(?i)(fonts\.googleapis|fonts\.gstatic|gstatic\.com|typekit|fontawesome|jsdelivr|unpkg"
    r"|cdnjs|(?:https?:)?//[^\s\"'()<>]*cdn[^\s\"'()<>]*)"
)


def _faces() -> list[dict[str, str]]:
    return [
        dict(re.findall(r"([a-z-]+):\s*([^;]+);", body))
        for body in re.findall(r"@font-face\s*{([^}]*)}", CSS)
    ]


def test_no_template_stylesheet_or_script_names_a_font_cdn():
    found = []
    for folder in (ROOT / "templates", ROOT / "static"):
        for path in folder.rglob("*"):
            if path.suffix in {".html", ".css", ".js", ".svg", ".txt", ".md", ".json"}:
                for match in CDN.finditer(path.read_text(encoding="utf-8", errors="replace")):
                    found.append(f"{path.relative_to(ROOT)}: {match.group(0)}")
    assert found == []
    assert not re.search(r"@import|url\(\s*[\"']?(?:https?:)?//", CSS)


def test_the_csp_takes_fonts_from_the_store_only():
    for policy in (content_security_policy(), content_security_policy("https://js.stripe.com/v3")):
        directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
        assert directives["font-src"] == "'self'"
        assert directives["default-src"] == "'self'"


def test_each_script_has_its_own_woff2_faces_at_400_and_700():
    faces = _faces()
    declared = {(face["font-family"].strip('"'), face["font-weight"]) for face in faces}
    assert declared == {(family, weight) for family in FAMILIES for weight in ("400", "700")}
    used = set()
    for face in faces:
        assert face["font-display"] == "swap"
        assert face["font-style"] == "normal"
        src = re.fullmatch(
            r'url\("\.\./fonts/([a-z0-9-]+\.woff2)"\) format\("woff2"\)', face["src"]
        )
        assert src, face["src"]
        path = FONTS / src.group(1)
        assert path.read_bytes()[:4] == b"wOF2", path
        used.add(path.name)
        # only the script's letters: Latin text is never drawn with these faces
        ranges = face["unicode-range"]
        assert "U+0000" not in ranges and "U+0020" not in ranges and "U+00" not in ranges
    assert used == {p.name for p in FONTS.glob("*.woff2")}  # none kept that is not used
    assert sum(p.stat().st_size for p in FONTS.glob("*.woff2")) < 300_000


def test_the_fonts_licence_and_origin_are_kept_beside_them():
    for family in ("Khmer", "Devanagari", "Bengali"):
        licence = (FONTS / f"OFL-NotoSans{family}.txt").read_text(encoding="utf-8")
        assert "SIL OPEN FONT LICENSE Version 1.1" in licence
        assert f"github.com/notofonts/{family.lower()}" in licence
    readme = (FONTS / "README.md").read_text(encoding="utf-8")
    for package in ("noto-sans-khmer", "noto-sans-devanagari", "noto-sans-bengali"):
        assert f"@fontsource/{package}` 5.3.0" in readme


def test_latin_keeps_the_system_font_and_khmer_gets_more_room():
    root = re.search(r":root\s*{([^}]*)}", CSS).group(1)
    assert re.search(r"--script-fonts:\s*" + r",\s*".join(f'"{f}"' for f in FAMILIES), root)
    assert "font-family: var(--script-fonts), var(--system-fonts);" in root
    assert re.search(r"--system-fonts:\s*system-ui,", root)
    assert re.search(r":root:lang\(km\)\s*{\s*line-height:\s*1\.[6-9]", CSS)


def test_the_store_serves_its_fonts(client):
    for path in FONTS.glob("*.woff2"):
        answer = client.get(f"/static/fonts/{path.name}")
        assert answer.status_code == 200
        assert answer.mimetype == "font/woff2"
        assert answer.get_data() == Path(path).read_bytes()
