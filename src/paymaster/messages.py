"""The gettext catalogs (Babel .po files in web/locales) every edge reads: the portal's
pages and the explanations rendered from a line's trace. English is the source text."""

from __future__ import annotations

import io
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from babel.support import NullTranslations

# Babel is imported where a catalog is read, not here: `paymaster run` checks its --locale
# against LOCALES and translates nothing (Babel's import is 0.03 s of CPU, 5-10% of a
# cached run of an example).

LOCALES = {"en": "en_US", "pl": "pl_PL", "zh": "zh_Hans_CN"}
CATALOGS = Path(__file__).parent / "web" / "locales"


@cache
def translations(language: str) -> NullTranslations:
    """The catalog, compiled in memory from its .po file (no build step, no .mo files)."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po
    from babel.support import NullTranslations, Translations

    path = CATALOGS / language / "LC_MESSAGES" / "messages.po"
    if language == "en" or not path.is_file():
        return NullTranslations()
    with path.open("rb") as handle:
        catalog = read_po(handle, locale=language)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(fp=buffer)
