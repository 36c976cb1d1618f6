"""The portal's message catalogs: extract every `_("...")` and `N_("...")` from the
templates, the web code, and the services and modules whose errors a portal user meets
(errors.Problem.of templates), and merge them into the Polish and Chinese .po files
(translations kept).

    python -m paymaster.web.catalog      # after adding or changing texts
"""

from __future__ import annotations

from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir, extract_from_file
from babel.messages.pofile import read_po, write_po

from paymaster.web.i18n import CATALOGS

WEB = Path(__file__).parent
# Explanations are rendered outside the web (statements, `paymaster explain`), from the
# same catalogs.
EXPLANATIONS = WEB.parent / "explanations.py"
# Notification e-mails are put in words where they are sent (paymaster.mail_text).
MAIL_TEXT = WEB.parent / "mail_text.py"
# Errors a portal user meets are raised below the web: the services, the checks of text
# limits (limits.py) and of program names (workspace.py), and the checks of an imported
# file (filecheck.py, datafiles.py, inputchecks.py: its row and column located).
SERVICES = WEB.parent / "services"
ERROR_MODULES = tuple(WEB.parent / name for name in (
    "limits.py", "workspace.py", "filecheck.py", "datafiles.py", "inputchecks.py"))
LANGUAGES = ("pl", "zh")
METHODS = [("templates/**.html", "jinja2"), ("**.py", "python")]


def messages() -> dict[str, list[tuple[str, int]]]:
    """Every message id with where it is used."""
    found: dict[str, list[tuple[str, int]]] = {}
    for filename, line, message, _comments, _context in extract_from_dir(WEB, METHODS):
        msgid = message if isinstance(message, str) else message[0]
        found.setdefault(msgid, []).append((filename, line))
    for path in (EXPLANATIONS, MAIL_TEXT, *ERROR_MODULES, *sorted(SERVICES.glob("*.py"))):
        for line, message, _comments, _context in extract_from_file("python", path):
            msgid = message if isinstance(message, str) else message[0]
            where = f"../{path.relative_to(WEB.parent).as_posix()}"
            found.setdefault(msgid, []).append((where, line))
    return found


def po_path(language: str) -> Path:
    return CATALOGS / language / "LC_MESSAGES" / "messages.po"


def load(language: str) -> Catalog:
    path = po_path(language)
    if not path.is_file():
        return Catalog(locale=language, project="Paymaster")
    with path.open("rb") as handle:
        return read_po(handle, locale=language)


def update(language: str) -> list[str]:
    """Merge the current messages into a language's catalog; returns those untranslated."""
    old = load(language)
    catalog = Catalog(locale=language, project="Paymaster", fuzzy=False)
    for msgid, locations in sorted(messages().items()):
        previous = old.get(msgid)
        catalog.add(msgid, previous.string if previous else "", locations=locations)
    path = po_path(language)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as handle:
        write_po(handle, catalog, width=100, sort_output=True)
    return [m.id for m in catalog if m.id and not m.string]


if __name__ == "__main__":
    for lang in LANGUAGES:
        missing = update(lang)
        print(f"{lang}: {len(missing)} message(s) to translate")
