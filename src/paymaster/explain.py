"""A payee's lines in words and figures, rendered from the result tables' trace columns
(`paymaster.explanations`) in the reader's language."""

from __future__ import annotations

from decimal import Decimal

import pyarrow as pa
from babel.numbers import format_decimal

from paymaster.explanations import explain_evaluation, explain_line
from paymaster.plan.model import Plan


def money_text(value: Decimal | None, currency: str) -> str:
    if value is None:
        return "-"
    return f"{format_decimal(value, format='#,##0.00', locale='en')} {currency}"


def explain_payee(tables: dict[str, pa.Table], payee: str, period: str | None,
                  plan: Plan, locale: str = "en") -> str | None:
    currency = plan.currency
    lines = [r for r in tables["payouts"].to_pylist()
             if r["payee_id"] == payee and (period is None or r["period"] == period)]
    evaluations = [r for r in tables["evaluations"].to_pylist()
                   if r["payee_id"] == payee and (period is None or r["period"] == period)]
    titles = [r for r in tables["titles"].to_pylist()
              if r["payee_id"] == payee and (period is None or r["period"] == period)]
    if not (lines or evaluations or titles):
        return None
    out = [f"payee {payee}" + (f", period {period}" if period else "")]
    for row in lines:
        out.append(_line(row, currency, explain_line(plan, row, locale)))
    for row in evaluations:
        verdict = "passed" if row["passed"] else f"not passed ({row['reason']})"
        out.append(f"  [{row['period']}] {row['evaluation']} {row['subject'] or ''} as of "
                   f"{row['as_of']}: {verdict}; {explain_evaluation(plan, row, locale)}".rstrip("; "))
    for row in titles:
        out.append(f"  [{row['period']}] title {row['title']} (place {row['rank']})")
    total = sum((r["amount"] for r in lines), Decimal(0))
    out.append(f"total paid: {money_text(total, currency)}")
    return "\n".join(out)


def _line(row: dict, currency: str, explanation: str) -> str:
    source = f" {row['source_id']}" if row["source_id"] else ""
    status = (f"paid {money_text(row['amount'], currency)}" if row["paid"]
              else f"not paid: {row['reason']}")
    cuts = []
    if row["cut_by_limit"]:
        cuts.append(f"cut by limit {money_text(row['cut_by_limit'], currency)}")
    if row["cut_by_budget"]:
        cuts.append(f"cut by budget {money_text(row['cut_by_budget'], currency)}")
    detail = "; ".join(filter(None, [explanation, *cuts]))
    version = f" (version {row['version']})" if row["version"] not in (None, "v1") else ""
    return f"  [{row['period']}] {row['measure']}{source}{version}: {detail} -> {status}"
