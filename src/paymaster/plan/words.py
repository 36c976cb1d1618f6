"""A plan's own words (measure labels, band labels, rule and reason names, titles) in the
reader's language, from the plan's `translations:` section. English is the plan's text
as written; a word the plan does not translate is shown as written."""

from __future__ import annotations

from paymaster.plan.model import Plan


def word(plan: Plan, text: str | None, language: str) -> str:
    """`text` (as the plan writes it) in `language`, or as written."""
    if not text:
        return text or ""
    return plan.translations.get(language.split("_")[0], {}).get(text, text)


def measure_labels(plan: Plan, language: str) -> dict[str, str]:
    """Each measure's label (its id when it has none) in `language`."""
    return {m.id: word(plan, getattr(m, "label", "") or m.id, language) for m in plan.measures}
