"""A payee's live status in a program: what the engine says today on the store's data.

The statement shows what was posted; the status shows where a payee stands now: its
lines, every gate and threshold with its progress, the trade-in RMAs still outstanding,
how far the next tier is, and the rebate it would earn. The engine's result is kept per
(workspace, program, input fingerprint, plan sha), so a page view recalculates only when
the data or the plan changed.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import tempfile
import threading
import time
from dataclasses import dataclass, replace
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc

from paymaster.plan.model import Aggregate, GatedRebate, Plan, Tiers
from paymaster.plan import LoadedPlan
from paymaster.plan.words import measure_labels, word
from paymaster.runs import fingerprint as run_fingerprint
from paymaster.services import engine_pool
from paymaster.services.calc import calculate_exported, export_stored
from paymaster.services.inputs import current_rows
from paymaster.services.statement_model import GateProgress
from paymaster.services.statements import gate_progress
from paymaster.services import home, paid
from paymaster.services.ledger import line_key
from paymaster.services.statement_labels import LABELS
from paymaster.explanations import explain_line
from paymaster.services.statements_render import gate_text, resolve_locale, state_text
from paymaster.money import round_money

if TYPE_CHECKING:
    from paymaster.workspace import Workspace

ONE = Decimal(1)
FIGURE = Decimal("0.01")


@dataclass(frozen=True)
class Live:
    """The engine's result tables for a program, as plain rows."""

    fingerprint: str
    payouts: list[dict]
    evaluations: list[dict]
    titles: list[dict]
    # (payee, source id) of the credits that count towards a gate
    counted: frozenset[tuple[str, str]] = frozenset()
    # the gated rebates' credits that do not count, each with its reason (payee_id, period,
    # measure, source_id, value, reason): a partner sees every line left out and why
    excluded: tuple[dict, ...] = ()
    # False: the data changed since; this is the previous result, while a new one is made
    fresh: bool = True


_CACHE: dict[tuple[str, str, str, str], Live] = {}
_LOCK = threading.Lock()
_REFRESHING: set[tuple[str, str]] = set()  # (workspace, program) calculating in the background
_FAILED: set[tuple[str, str]] = set()      # ... whose background calculation failed
_STARTED: dict[tuple[str, str], float] = {}  # ... when its last one started (monotonic)
# Background calculations of a program start at most this often (seconds): while its data
# changes all the time, its status is at most this much (and one calculation) behind.
REFRESH_SECONDS = 10.0
_log = logging.getLogger("paymaster.status")


def live(ws: Workspace, program: str, *, wait: bool = False,
         background: bool = False) -> Live:
    """The engine's result on the store's current data, from the cache when nothing changed.

    The data is read in one read transaction; the engine runs after it, holding nothing.
    When the data changed since the program's last result, a page does not wait for the
    engine (a partner registering once a second would otherwise recalculate the program
    under every other partner's page): it gets that last result marked not fresh, and
    the program is calculated again in the background, once at a time and at most every
    refresh_seconds() (10 s; the page says when it shows older figures). The first result
    of a program, and any after a background calculation failed, are calculated while
    the caller waits (`wait` too), so an error is shown, never hidden behind old figures.
    `background`: the calculation is background work (a refresh, nobody waits for it).
    """
    loaded = ws.plan(program)
    with tempfile.TemporaryDirectory(prefix="paymaster-") as tmp:
        with ws.store.reading() as session:
            folder = export_stored(ws, session, program, None, Path(tmp))
        day = ws.today(program)  # (what is overdue: the day is part of the result's key)
        key = (str(ws.folder.resolve()), program, run_fingerprint(loaded, folder, day),
               ws.plan_sha(program))
        where = key[:2]
        with _LOCK:
            hit = _CACHE.get(key)
            older = next((v for k, v in _CACHE.items() if k[:2] == where), None)
            behind = hit is None and older is not None and not wait and where not in _FAILED
            start = (behind and where not in _REFRESHING
                     and time.monotonic() - _STARTED.get(where, -1e9) >= refresh_seconds())
            if start:
                _REFRESHING.add(where)
                _STARTED[where] = time.monotonic()
        if hit is not None:
            return hit
        if behind:
            if start:
                threading.Thread(target=_refresh, args=(ws, program, where), daemon=True,
                                 name=f"status {program}").start()
            return replace(older, fresh=False)
        hit = engine_pool.run(_calculated, loaded, folder, key[2], day, background=background)
    with _LOCK:
        # Older results of this program can never be asked for again: drop them.
        for old in [k for k in _CACHE if k[:2] == where]:
            del _CACHE[old]
        _CACHE[key] = hit
        _FAILED.discard(where)
    return hit


def refresh_seconds() -> float:
    """REFRESH_SECONDS, or PAYMASTER_STATUS_REFRESH_SECONDS when set."""
    text = os.environ.get("PAYMASTER_STATUS_REFRESH_SECONDS")
    return float(text) if text else REFRESH_SECONDS


def _refresh(ws: Workspace, program: str, where: tuple[str, str]) -> None:
    try:
        live(ws, program, wait=True, background=True)
    except Exception:  # noqa: BLE001 - logged; the next page calculates in sight, and fails there
        _log.exception("status of %s: the background calculation failed", program)
        with _LOCK:
            _FAILED.add(where)
    finally:
        with _LOCK:
            _REFRESHING.discard(where)


def _calculated(loaded: LoadedPlan, folder: Path, fingerprint: str,
                as_of: dt.date | None = None) -> Live:
    """The engine on the exported inputs, as the rows the status pages read (run by
    engine_pool: in a worker process under `paymaster serve`), overdue as of `as_of`."""
    result = calculate_exported(loaded, folder,
                                only=("payouts", "evaluations", "titles", "credits"),
                                as_of=as_of)
    tables = {name: result.tables[name].to_pylist() for name in ("payouts", "evaluations",
                                                                  "titles")}
    # Only the gated rebates' credits: the ones that count hold RMAs outstanding, the
    # others are listed with their reasons.
    gated = [m.id for m in loaded.plan.measures if isinstance(m, GatedRebate)]
    credits = result.tables["credits"]
    credits = credits.filter(pc.is_in(credits["measure"], pa.array(gated, pa.string())))
    counts = pc.fill_null(credits["counts"], False)
    counting = credits.filter(counts).select(["payee_id", "source_id"]).to_pylist()
    excluded = credits.filter(pc.invert(counts)).select(
        ["payee_id", "period", "measure", "source_id", "value", "reason"]).to_pylist()
    return Live(fingerprint, tables["payouts"], tables["evaluations"], tables["titles"],
                frozenset((c["payee_id"], c["source_id"]) for c in counting), tuple(excluded))


def refreshed(timeout: float = 60.0) -> bool:
    """Wait until no background calculation runs (tests, benchmarks); False on timeout."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        with _LOCK:
            if not _REFRESHING:
                return True
        time.sleep(0.02)
    return False


def clear_cache() -> None:
    with _LOCK:
        _CACHE.clear()
        _FAILED.clear()
        _STARTED.clear()


def payee_status(ws: Workspace, program: str, payee_id: str, locale: str = "en") -> dict:
    """Everything the status page shows for one payee, as plain data."""
    plan = ws.plan(program).plan
    result = live(ws, program)
    labels = measure_labels(plan, locale)
    with ws.store.session() as session:
        money = paid.line_money(session, program, payee_id)
    words, babel_locale = _words(locale)
    currency = plan.currency
    lines = [_line(row, plan, labels, locale)
             | _money_fields(row, money, words, babel_locale, currency)
             for row in result.payouts if row["payee_id"] == payee_id]
    gates = [_gate(g, locale, plan.currency) for row in result.evaluations
             if row["payee_id"] == payee_id
             for g in gate_progress(_text_row(row), plan, locale)]
    data = {
        "program": program, "title": plan.title or program, "currency": plan.currency,
        "payee_id": payee_id, "fingerprint": result.fingerprint, "fresh": result.fresh,
        "lines": lines,
        "total": round_money(sum((line["amount"] for line in lines if line["earns"]),
                                 Decimal(0)), currency),
        # what the ledger holds for the payee (every line ever posted, even one gone from
        # today's calculation) and what of it is in payout batches
        "total_posted": round_money(sum((m.posted for m in money.values()), Decimal(0)),
                                    currency),
        "total_paid": round_money(sum((m.paid for m in money.values()), Decimal(0)), currency),
        "gates": gates,
        "outstanding_rmas": outstanding_rmas(ws, program, payee_id, result.counted),
        "excluded_lines": excluded_lines(ws, program, payee_id, result.excluded),
        "rebates": [_rebate(row, labels, currency) for row in result.payouts
                    if row["payee_id"] == payee_id
                    and isinstance(plan.measure(row["measure"]), GatedRebate)],
        "titles": [{"period": t["period"], "title": t["title"], "rank": t["rank"],
                    "value": t["value"]} for t in result.titles if t["payee_id"] == payee_id],
    }
    return data | {"home": home.summary(plan, payee_id, ws.today(program),
                                        ws.program(program).payout_day, data, result.payouts)}


# ---------------------------------------------------------------- lines and tiers
def _line(row: dict, plan: Plan, labels: dict[str, str], locale: str = "en") -> dict:
    measure = plan.measure(row["measure"])
    return {
        "period": row["period"], "measure": row["measure"],
        "label": labels.get(row["measure"], row["measure"]), "source_id": row["source_id"],
        "date": row["date"], "amount": _paid(row, plan.currency),
        "earns": bool(row["paid"]), "reason": row["reason"],
        "explanation": explain_line(plan, row, locale),
        "value": _figure(row["value"]), "target": _figure(row["target"]), "band": row["band"],
        "next_tier": _next_tier_in(locale, plan, next_tier(measure, plan, row["value"], row["target"])
                                   if isinstance(measure, Aggregate) and measure.tiers else None),
    }


def _next_tier_in(locale: str, plan: Plan, tier: dict | None) -> dict | None:
    return tier if tier is None else tier | {"label": word(plan, tier["label"], locale)}


def next_tier(measure: Aggregate, plan: Plan, value: Decimal | None,
              target: Decimal | None) -> dict | None:
    """The tier above the one `value` reached and how much more it needs; None at the top
    (or without the figures to tell)."""
    tiers: Tiers = measure.tiers
    if value is None or (tiers.relative_to == "target" and not target):
        return None
    for index, tier in enumerate(tiers.tiers[:-1]):
        edge = _number(tier.upto, plan)
        if edge is None:
            break
        if tiers.relative_to == "target":
            edge = edge * target
        if value < edge:
            above = tiers.tiers[index + 1]
            return {"label": above.label, "rate": _number(above.rate, plan),
                    "starts_at": _figure(edge), "needed": _figure(edge - value)}
    return None


def _number(value: Decimal | str | None, plan: Plan) -> Decimal | None:
    if value is None:
        return None
    if isinstance(value, str):
        name = value.removeprefix("param.")
        if name in plan.parameters:
            return Decimal(str(plan.parameters[name]))
        try:  # a literal the plan model kept as text
            return Decimal(value)
        except ArithmeticError:
            return None
    return Decimal(value)


def _figure(value: Decimal | None) -> Decimal | None:
    """A measured value (sales, a score, a count) as the status page shows it: 2 places."""
    return None if value is None else value.quantize(FIGURE, ROUND_HALF_UP)


def _money(value: Decimal | None, currency: str) -> Decimal | None:
    """An amount in the plan's currency, rounded half-up to its minor unit (JPY 0 places)."""
    return None if value is None else round_money(value, currency)


def _paid(row: dict, currency: str) -> Decimal:
    return round_money(row["amount"] if row["paid"] else Decimal(0), currency)


def _rebate(row: dict, labels: dict[str, str], currency: str) -> dict:
    """What a gated rebate pays now, and what its qualifying value would earn once every
    gate passes."""
    value, rate = row["value"], row["rate"]
    would = _money(value * rate, currency) if value is not None and rate else None
    return {"period": row["period"], "measure": row["measure"],
            "label": labels.get(row["measure"], row["measure"]),
            "qualifying": _money(value, currency),
            "rate": rate.normalize() if rate is not None else None, "would_earn": would,
            "earned": _paid(row, currency),
            "earns": bool(row["paid"]), "reason": row["reason"]}


def _words(locale: str) -> tuple[dict[str, str], str]:
    language, babel_locale = resolve_locale(locale)
    return LABELS[language], babel_locale


def _money_fields(row: dict, money: dict[str, paid.LineMoney], words: dict[str, str],
                  babel_locale: str, currency: str) -> dict:
    """Where the line's money is: earned today, posted to the ledger, paid in a batch."""
    fields = paid.fields(bool(row["paid"]), money.get(line_key(row)))
    fields |= {k: round_money(fields[k], currency) for k in ("posted", "paid")}
    return fields | {"status": state_text(fields["state"], fields["batches"],
                                          fields["paid_on"], words, babel_locale)}


# ---------------------------------------------------------------- gates
def _text_row(row: dict) -> dict:
    # `gate_progress` reads stored (JSON) run rows: dates and numbers as text.
    return {k: (v.isoformat() if hasattr(v, "isoformat") else
                str(v) if isinstance(v, Decimal) else v) for k, v in row.items()}


def _gate(gate: GateProgress, locale: str, currency: str) -> dict:
    return {
        "period": gate.period, "evaluation": gate.evaluation, "subject": gate.subject,
        "as_of": gate.as_of, "passed": gate.passed, "value": gate.value,
        "threshold": gate.threshold, "ratio": gate.ratio, "required_ratio": gate.required_ratio,
        "reason": gate.reason, "explanation": gate.explanation,
        "progress": progress(gate), "text": gate_text(gate, locale, currency),
    }


def progress(gate: GateProgress) -> Decimal:
    """How far along the gate is, 0 to 1, for a progress bar."""
    if gate.ratio is not None and gate.required_ratio:
        reached = gate.ratio / gate.required_ratio
    elif gate.value is not None and gate.threshold:
        reached = gate.value / gate.threshold
    else:
        reached = ONE if gate.passed else Decimal(0)
    return min(max(reached, Decimal(0)), ONE).quantize(Decimal("0.0001"), ROUND_HALF_UP)


# ---------------------------------------------------------------- outstanding returns
def outstanding_rmas(ws: Workspace, program: str, payee_id: str,
                     counted: frozenset[tuple[str, str]]) -> list[dict[str, Any]]:
    """The payee's trade-in orders that count towards its gates (`counted`: (payee, line
    id) of the credits that count) whose RMA has not come back (not in returns, no
    confirmed case): what still holds its return ratio down. A line that does not count
    (internal use, claimed under another program, ...) holds nothing down."""
    plan = ws.plan(program).plan
    rebates = [m for m in plan.measures if isinstance(m, GatedRebate)]
    if not rebates or "returns" not in plan.inputs:
        return []
    measure = rebates[0]
    source = plan.inputs[measure.source]
    if not {"rma_number", measure.payee, str(measure.source_id)} <= set(source.columns):
        return []
    with ws.store.reading() as session:
        orders = current_rows(session, program, measure.source)
        returned = {r.get("rma_number") for r in current_rows(session, program, "returns")}
        if "cases" in plan.inputs:
            returned |= {c.get("rma_number") for c in current_rows(session, program, "cases")
                         if c.get("status") == "confirmed"}
    out = []
    for order in orders:
        if order.get(measure.payee) != payee_id or not order.get("rma_number"):
            continue
        if (payee_id, str(order.get(measure.source_id) or "")) not in counted:
            continue
        if order["rma_number"] not in returned:
            out.append({k: order.get(k) for k in ("line_id", "sales_order", "tmp_quote",
                                                  "order_date", "trade_in_credit",
                                                  "rma_number") if k in source.columns})
    return sorted(out, key=lambda o: (str(o.get("order_date")), str(o.get("rma_number"))))


def excluded_lines(ws: Workspace, program: str, payee_id: str,
                   excluded: tuple[dict, ...]) -> list[dict[str, Any]]:
    """The payee's lines of a gated rebate that do not count, each with its reason (a
    credit not in USD, a deviation approved too late, internal use, ...), and the order's
    own figures where its source table has them (sales order, date, currency)."""
    mine = [e for e in excluded if e["payee_id"] == payee_id]
    if not mine:
        return []
    plan = ws.plan(program).plan
    by_measure = {m.id: m for m in plan.measures if isinstance(m, GatedRebate)}
    # the credit itself is the credit's `value`, exact to the cent
    shown = ("sales_order", "order_date", "credit_currency")
    rows: dict[tuple[str, str], dict] = {}
    with ws.store.reading() as session:
        for measure in [by_measure[m] for m in sorted({e["measure"] for e in mine})
                        if m in by_measure]:
            for row in current_rows(session, program, measure.source):
                if row.get(measure.payee) == payee_id:
                    rows[(measure.id, str(row.get(measure.source_id) or ""))] = row
    out = []
    for e in mine:
        row = rows.get((e["measure"], str(e["source_id"] or "")), {})
        out.append({"period": e["period"], "measure": e["measure"], "source_id": e["source_id"],
                    "value": _money(e["value"], plan.currency), "reason": e["reason"],
                    **{k: row.get(k) for k in shown if k in row}})
    return sorted(out, key=lambda o: (o["period"], str(o["source_id"])))
