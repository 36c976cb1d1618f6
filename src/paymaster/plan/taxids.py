"""How a tax id may be written: the characters between its digits that are not part of it.

'526-025-09-95', '526 025 09 95' and '5260250995' are one NIP. What counts as a space is
spelt out character by character, not as the regular expression class `\\s`: DuckDB's
RE2 and Spark's Java disagree on it (Java's `\\s` holds the vertical tab, RE2's does not),
so the same tax id would be valid on one backend and invalid on the other. The set is
Python's `string.whitespace` (space, tab, LF, CR, VT, FF), the whitespace the engine's
blank-field check also means (engine.blocks.screening.BLANK), and the dash. A no-break
space is none of them: it is refused on both backends, as it always was.
"""

from __future__ import annotations

# A regular expression character class, the same text for RE2 (DuckDB) and Java (Spark).
# (\x0b and \x0c, not \v: Java reads \v as a class of its own, vertical whitespace.)
TAX_ID_SEPARATORS = r"[ \t\n\r\x0b\x0c-]"
