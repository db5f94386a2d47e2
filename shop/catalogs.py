"""The translation catalogs compiled: translations/<lang>/LC_MESSAGES/messages.po to its
.mo, for each catalog whose .mo is missing or older. `make run` and `make test` call it
(`python -m shop.catalogs`), so the binaries are built, never committed; the test suite
calls it too, for a run started without make."""

from __future__ import annotations

import sys
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS = ROOT / "translations"


def compile_catalogs(folder: Path = TRANSLATIONS, *, quiet: bool = False) -> list[Path]:
    """Compile the stale catalogs; answer the .mo files written."""
    written = []
    for po_path in sorted(folder.glob("*/LC_MESSAGES/*.po")):
        mo_path = po_path.with_suffix(".mo")
        if mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
            continue
        with po_path.open("rb") as po_file:
            catalog = read_po(po_file, locale=po_path.parent.parent.name)
        # No fuzzy message is used: a guess is not a translation (the tests refuse them).
        temporary = mo_path.with_suffix(".mo.tmp")
        with temporary.open("wb") as mo_file:
            write_mo(mo_file, catalog, use_fuzzy=False)
        temporary.replace(mo_path)
        written.append(mo_path)
        if not quiet:
            done = sum(
                1
                for message in catalog
                if message.id
                and all(message.string if isinstance(message.string, tuple) else [message.string])
            )
            print(f"compiled {po_path.relative_to(ROOT)}: {done} messages", file=sys.stderr)
    return written


if __name__ == "__main__":
    compile_catalogs()
