"""The Content-Disposition of every download (RFC 6266 with RFC 5987's `filename*`).

A file name built from ids (program, payee, period) may hold any text: Chinese, quotes,
CR/LF. The header gets an ASCII fallback `filename="..."` (unsafe characters replaced) and
the exact name percent-encoded as UTF-8 in `filename*`, which browsers prefer.
"""

from __future__ import annotations

import re
from urllib.parse import quote

_UNSAFE_ASCII = re.compile(r'[^A-Za-z0-9._\- ]+')


def disposition(filename: str, *, inline: bool = False) -> dict[str, str]:
    """{"Content-Disposition": ...} for a response that sends `filename`."""
    name = "".join(ch for ch in filename if ch.isprintable()) or "download"
    fallback = _UNSAFE_ASCII.sub("_", name).strip(" .") or "download"
    encoded = quote(name, safe="")
    kind = "inline" if inline else "attachment"
    return {"Content-Disposition": f"{kind}; filename=\"{fallback}\"; filename*=UTF-8''{encoded}"}
