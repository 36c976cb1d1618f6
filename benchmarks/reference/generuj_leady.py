"""Generuj Leady computed the straightforward way: plain Python loops over records, Decimal.

Written from shared/programs/generuj-leady.md alone, independent of the engine, with the
same data contract (docs/data.md). It is the benchmark's per-record baseline and a second
oracle for the engine (tests/test_reference.py).

    python benchmarks/reference/generuj_leady.py DATA_DIR
"""

from __future__ import annotations

import datetime as dt
import sys
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import holidays
from common import natural, read

START, END = dt.date(2018, 3, 27), dt.date(2018, 6, 27)
POOL = Decimal("150000")
BONUS = Decimal("365")
REQUIRED = ("customer_name", "customer_address", "customer_nip", "plan", "licences", "pcs",
            "partner_name", "partner_address", "partner_nip", "contact_name", "contact_phone",
            "contact_email")


def day(text: str) -> dt.date:
    return dt.date.fromisoformat(text.strip()[:10])


def nip_ok(text: str) -> bool:
    digits = text.replace("-", "").replace(" ", "")
    if len(digits) != 10 or not digits.isdigit():
        return False
    check = sum(int(d) * w for d, w in zip(digits, (6, 5, 7, 2, 3, 4, 5, 6, 7), strict=False)) % 11
    return check != 10 and check == int(digits[9])


def canonical_nip(text: str | None) -> str | None:
    """A valid NIP compared as its ten digits ('526-025-09-95' is 5260250995)."""
    if text and nip_ok(text):
        return text.replace("-", "").replace(" ", "")
    return text


def truthy(text: str) -> bool:
    return text.strip().lower() in ("true", "t", "yes", "y", "1")


def rate(family: str, billing: str, licences: int) -> Decimal:
    if licences >= 251:
        return Decimal("0.02")
    if billing == "monthly":
        return Decimal("0.05")
    return Decimal("0.20") if family == "M365" else Decimal("0.15")


def due(submitted: dt.date) -> dt.date:
    """The owner's last day to answer: 5 Polish business days after the submission day
    (that day not counted; no weekends, no Polish public holidays)."""
    day_, left = submitted, 5
    while left:
        day_ += dt.timedelta(days=1)
        if day_.weekday() < 5 and day_ not in holidays.Poland(years=day_.year):
            left -= 1
    return day_


def screen(folder: Path, as_of: dt.date) -> tuple[dict[str, str | None], list[dict], list[dict]]:
    """Reason per registration (None = accepted), the accepted ones in order, and every
    registration in order (NIP in its canonical form). An unanswered registration is
    overdue once `as_of` is past its due date, else awaiting the owner's decision."""
    partners = {p["partner_id"]: p for p in read(folder, "partners")}
    listed = {c["nip"] for c in read(folder, "customers")
              if c["country"] == "PL" and c["segment"].lower() == "commercial_smb"}
    holdings = defaultdict(list)
    for h in read(folder, "holdings"):
        holdings[h["customer_nip"]].append(h)
    registry = defaultdict(list)
    for v in read(folder, "vendor_registry"):
        registry[(v["customer_nip"], v["family"].upper())].append(day(v["registered_on"]))
    regs = sorted(read(folder, "registrations"),
                  key=lambda r: (r["submitted_at"], natural(r["registration_id"])))
    reasons: dict[str, str | None] = {}
    accepted: list[dict] = []
    everyone: list[dict] = []
    winner: dict[tuple, str] = {}
    for r in regs:
        r = {**r, "customer_nip": canonical_nip(r["customer_nip"])}
        submitted = day(r["submitted_at"])
        family, plan = r["family"].upper(), (r["plan"] or "").strip()
        held = [h for h in holdings[r["customer_nip"]] if day(h["since"]) <= submitted]
        # An upgrade to E3 or higher: above every O365 plan held (E1 < E3 < E5).
        upgrade = (all(h["family"].upper() == "O365" for h in held)
                   and ((family == "O365" and plan in ("E3", "E5")
                         and all(h["plan"] not in ("E3", "E5") or h["plan"] < plan for h in held))
                        or (family == "M365" and plan.startswith("E"))))
        key = (r["customer_nip"], family)
        checks = [
            ("missing_field", any(not (r.get(f) or "").strip() for f in REQUIRED)),
            ("invalid_nip", not (nip_ok(r["customer_nip"] or "") and nip_ok(r["partner_nip"] or ""))),
            ("partner_not_polish", partners.get(r["partner_id"], {}).get("country") != "PL"),
            ("customer_not_polish_smb", r["customer_nip"] not in listed),
            ("too_few_licences", bool(r["licences"]) and int(r["licences"]) < 3),
            ("existing_customer", bool(held) and not upgrade),
            ("already_registered", key in winner and winner[key] != r["partner_id"]),
            ("in_vendor_registry", any(d <= submitted for d in registry[key])),
            ("outside_promotion_period", not START <= submitted <= END),
            ("rejected_by_owner", (r.get("decision") or "").strip().lower() == "rejected"),
            ("overdue", (r.get("decision") or "").strip().lower() == "pending"
             and due(submitted) < as_of),
            ("awaiting_decision", (r.get("decision") or "").strip().lower() == "pending"),
        ]
        reasons[r["registration_id"]] = next((name for name, failed in checks if failed), None)
        everyone.append(r)
        if reasons[r["registration_id"]] is None:
            accepted.append(r)
            winner.setdefault(key, r["partner_id"])
    return reasons, accepted, everyone


def unclaimed_reason(sale: dict, everyone: list[dict], reasons: dict, claimed: dict) -> str:
    """Why a sale no registration claimed is not paid: the latest registration of its
    partner, customer and family submitted on or before its order day says it (already
    used by an earlier sale, still pending, or rejected); with none, no_registration."""
    key = (sale["partner_id"], sale["customer_nip"], sale["family"].upper())
    ordered = day(sale["order_date"])
    latest = [r for r in everyone
              if (r["partner_id"], r["customer_nip"], r["family"].upper()) == key
              and day(r["submitted_at"]) <= ordered]
    if not latest:
        return "no_registration"
    reason = reasons[latest[-1]["registration_id"]]
    if reason is None:
        assert latest[-1]["registration_id"] in claimed.values()  # it took an earlier sale
        return "registration_already_used"
    return ("registration_pending" if reason in ("awaiting_decision", "overdue")
            else "registration_rejected")


def run(folder: Path, as_of: dt.date | None = None) -> dict[str, list[dict]]:
    """The payouts and evaluations; what is overdue judged on `as_of` (default today)."""
    folder = Path(folder)
    partners = {p["partner_id"]: p for p in read(folder, "partners")}
    reasons, accepted, everyone = screen(folder, as_of or dt.date.today())
    sales = sorted(read(folder, "sales"), key=lambda s: (s["order_date"], natural(s["sale_id"])))
    candidates = defaultdict(list)  # sales per (partner, customer, family), in order
    for s in sales:
        candidates[(s["partner_id"], s["customer_nip"], s["family"].upper())].append(s)
    claimed: dict[str, str] = {}
    for r in accepted:  # each registration takes its earliest unclaimed sale
        submitted = day(r["submitted_at"])
        for s in candidates[(r["partner_id"], r["customer_nip"], r["family"].upper())]:
            if s["sale_id"] not in claimed and day(s["order_date"]) >= submitted:
                claimed[s["sale_id"]] = r["registration_id"]
                break
    lines, slots, bonused = [], defaultdict(int), set()
    for s in sales:
        ordered, licences = day(s["order_date"]), int(s["licences"])
        amount = (Decimal(s["unit_price"]) * 12 * min(licences, 500)
                  * rate(s["family"].upper(), s["billing"].lower(), licences))
        amount = amount.quantize(Decimal("0.01"), ROUND_HALF_UP)
        partner = partners[s["partner_id"]]
        closed = START <= ordered <= END and licences >= 3
        reason = (unclaimed_reason(s, everyone, reasons, claimed) if s["sale_id"] not in claimed
                  else "partner_removed" if (partner.get("removed_on") or "").strip()
                  else "outside_period" if not START <= ordered <= END
                  else "too_few_licences" if licences < 3 else None)
        month = ordered.strftime("%Y-%m")
        if reason is None:
            slots[(s["partner_id"], month)] += 1
            if slots[(s["partner_id"], month)] > 5:
                reason = "monthly_cap"
        lines.append({"payee_id": s["partner_id"], "period": month, "measure": "deal",
                      "source_id": s["sale_id"], "amount": amount, "reason": reason})
        # A removed partner's first closed deal still brings its bonus, cancelled on record.
        cancelled = reason == "partner_removed" and closed
        if (reason is None or cancelled) and truthy(partner["new_to_program"]) \
                and s["partner_id"] not in bonused:
            bonused.add(s["partner_id"])
            lines.append({"payee_id": s["partner_id"], "period": month,
                          "measure": "new_partner_bonus", "source_id": s["sale_id"],
                          "amount": BONUS, "reason": reason})
    left = POOL
    for line in lines:  # already in order of order date, sale id, deal before its bonus
        if line["reason"] is None:
            line["amount"] = min(line["amount"], left)
            left -= line["amount"]
            if line["amount"] <= 0:
                line["reason"] = "budget_exhausted"
        if line["reason"] is not None:
            line["amount"] = Decimal("0.00")
        line["paid"] = line["reason"] is None
    return {"payouts": lines,
            "evaluations": [{"subject": k, "passed": v is None, "reason": v}
                            for k, v in reasons.items()]}


if __name__ == "__main__":
    for row in run(Path(sys.argv[1]))["payouts"]:
        print(row)
