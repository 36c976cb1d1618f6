"""What `paymaster run` prints after a calculation: its figures as a table, the budget
spent, the effect on sales, the unpaid lines by reason and the stages' times.

Plain text from the standard library alone, so that the fast path (fastrun.py, which
imports no terminal framework) and the command line print the very same lines; the table
is drawn in the heavy-headed box the command line's other tables use."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal


def summary_text(*, program: str, currency: str, places: int, payees: int, lines: int,
                 paid: int, unpaid: int, total: Decimal, budget: Decimal | None,
                 effect: Iterable[Mapping], reasons: Sequence[tuple[object, int]],
                 timings: Mapping[str, float]) -> str:
    """The summary's lines, each ending in a line break."""

    def amount(value: Decimal) -> str:
        return f"{Decimal(str(value)):,.{places}f}"

    text = table(f"{program} ({currency})", ["payees", "lines", "paid", "unpaid", "total"],
                 [True] * 5, [[str(payees), str(lines), str(paid), str(unpaid), amount(total)]])
    if budget:
        text += (f"budget {amount(budget)}: spent {amount(total)} ({total / budget:.1%}), "
                 f"remaining {amount(budget - total)}\n")
    for row in effect:
        growth = "n/a" if row["growth"] is None else f"{row['growth']:+.1%}"
        share = "n/a" if row["cost_share"] is None else f"{row['cost_share']:.1%}"
        text += (f"effect: sales {row['sales']:,.2f}, previous year {row['previous_sales']:,.2f}"
                 f" ({growth}); incentive cost {share} of sales\n")
    if reasons:
        text += table("unpaid by reason", ["reason", "lines"], [False, True],
                      [[str(reason), str(count)] for reason, count in reasons])
    return text + "stages: " + ", ".join(f"{k} {v:.2f}s" for k, v in timings.items()) + "\n"


def table(title: str, header: list[str], right: list[bool], rows: list[list[str]]) -> str:
    """A titled table in a box with a heavy head, each cell padded by a space, the columns
    in `right` aligned right."""
    widths = [max(len(cell) for cell in column) for column in zip(header, *rows, strict=True)]

    def line(left: str, fill: str, middle: str, end: str) -> str:
        return left + middle.join(fill * (w + 2) for w in widths) + end + "\n"

    def cells(values: list[str], edge: str, middle: str) -> str:
        padded = [(v.rjust(w) if r else v.ljust(w)) for v, w, r in zip(values, widths, right,
                                                                      strict=True)]
        return edge + middle.join(f" {v} " for v in padded) + edge + "\n"

    text = title + "\n"
    text += line("┏", "━", "┳", "┓") + cells(header, "┃", "┃") + line("┡", "━", "╇", "┩")
    text += "".join(cells(row, "│", "│") for row in rows)
    return text + line("└", "─", "┴", "┘")
