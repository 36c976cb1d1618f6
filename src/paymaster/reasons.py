"""What a reason code means, in the reader's language (statements and the portal).

Reasons are data: codes the engine and the plan write on lines. A code the plan
translates (its `translations:`) is shown with the plan's words, one known here with these
words; any other is shown as written.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from paymaster.plan.model import Plan

# The reasons of the empty lines a measure's `roster` writes, and a screening's default
# for a record waiting for the owner past its due date (docs/plan-language.md).
REASONS: dict[str, dict[str, str]] = {
    "no_sales": {"en": "no sales in the period", "pl": "brak sprzedaży w okresie",
                 "zh": "本期无销售"},
    "no_team_sales": {"en": "the team had no sales in the period",
                      "pl": "zespół nie miał sprzedaży w okresie", "zh": "团队本期无销售"},
    "no_new_product_sales": {"en": "no sales of new products in the period",
                             "pl": "brak sprzedaży nowych produktów w okresie",
                             "zh": "本期无新产品销售"},
    "no_new_customers": {"en": "no new customer in the period",
                         "pl": "brak nowych klientów w okresie", "zh": "本期无新客户"},
    "no_score": {"en": "no score for the period", "pl": "brak oceny za okres",
                 "zh": "本期无评分"},
    "no_returns": {"en": "no return booked in the period, nothing to claw back",
                   "pl": "brak zwrotów w okresie, nic do potrącenia",
                   "zh": "本期无退货，无需扣回"},
    "not_placed": {"en": "ranked below the prize places", "pl": "miejsce poza nagrodzonymi",
                   "zh": "排名未进入获奖名次"},
    "no_previous_period": {"en": "first period: no previous period to grow from",
                           "pl": "pierwszy okres: brak poprzedniego okresu do porównania",
                           "zh": "首个周期：无上一周期可比较"},
    "below_min_previous": {"en": "previous period's sales below the minimum to take part",
                           "pl": "sprzedaż w poprzednim okresie poniżej minimum udziału",
                           "zh": "上一周期销售额低于参评门槛"},
    "not_in_top_5": {"en": "not in the top five", "pl": "poza pierwszą piątką",
                     "zh": "未进入前五名"},
    # A screening's waiting record past its `answer_within` (plan/model.py Decision).
    "overdue": {"en": "overdue: the owner did not answer in time",
                "pl": "po terminie: brak odpowiedzi w terminie", "zh": "逾期：未在期限内答复"},
    "streak_incomplete": {"en": "in the top places, but no run completed this period",
                          "pl": "w czołówce, ale bez ukończonej serii w tym okresie",
                          "zh": "位列前茅，但本期未完成连续周期"},
}


def reason_label(code: str | None, language: str, plan: Plan | None = None) -> str:
    """The words for `code` in `language` (English when it has none); empty when unknown.
    The plan's own translation of the code comes first."""
    language = (language or "en").split("_")[0]
    own = plan.translations.get(language, {}).get(code or "") if plan is not None else None
    if own:
        return own
    words = REASONS.get(code or "")
    if words is None:
        return ""
    return words.get(language) or words["en"]


def reason_text(code: str | None, language: str, plan: Plan | None = None) -> str:
    """A reason as a statement shows it: its words and its code, or the code alone."""
    label = reason_label(code, language, plan)
    return f"{label} ({code})" if label else (code or "")


def reason_words(code: str | None, language: str, plan: Plan | None = None) -> str:
    """A reason inside a sentence: its words in Polish or Chinese (the code when it has
    none); in English the code itself, as the programs' specs write it."""
    if not code or language.split("_")[0] == "en":
        return code or ""
    return reason_label(code, language, plan) or code
