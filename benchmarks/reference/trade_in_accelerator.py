"""The Trade-In Accelerator computed the straightforward way: Python loops, Decimal.

Written from shared/programs/trade-in-accelerator.md alone, independent of the engine, with
the data contract of docs/data.md. Benchmark baseline and second oracle.

    python benchmarks/reference/trade_in_accelerator.py DATA_DIR
"""

from __future__ import annotations

import datetime as dt
import sys
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from common import read

D = dt.date
COUNTRIES = {"KR", "CN", "AU", "NZ", "SG", "MY", "PH", "VN", "TW", "ID", "TH", "HK"}
PHASES = {
    "phase-6": {"number": 6, "start": D(2008, 1, 27), "end": D(2008, 4, 26), "minimum": Decimal(12500),
                "deadline": D(2008, 2, 29), "second_half": None,
                "evaluations": [D(2008, 7, 26), D(2008, 10, 25)], "countries": COUNTRIES},
    "phase-7": {"number": 7, "start": D(2008, 4, 27), "end": D(2008, 10, 25), "minimum": Decimal(25000),
                "deadline": D(2008, 9, 30), "second_half": D(2008, 7, 27),
                "evaluations": [D(2009, 1, 24), D(2009, 4, 25)], "countries": COUNTRIES | {"IN"}},
}
LEVELS = {"Gold", "Silver", "Premier", "Select"}


def date(text: str | None) -> dt.date | None:
    return dt.date.fromisoformat(text[:10]) if text and text.strip() else None


def instant(text: str | None) -> dt.datetime | None:
    """A timestamp cell; a bare date is that day at 00:00:00."""
    if not text or not text.strip():
        return None
    return dt.datetime.fromisoformat(text.strip().replace("T", " "))


def approved_before(deviation: dt.datetime | None, confirmed: dt.datetime) -> bool:
    """Strictly before. An approval at exactly 00:00:00 is a bare date, the time unknown:
    it precedes only a confirmation on a later day."""
    if deviation is None or deviation >= confirmed:
        return False
    return deviation.time() != dt.time(0) or deviation.date() < confirmed.date()


def yes(text: str) -> bool:
    return text.strip().lower() in ("true", "t", "yes", "y", "1")


def covered(spans: list[tuple[dt.date, dt.date]], start: dt.date, end: dt.date) -> bool:
    """Do the intervals, merged where they touch or overlap, cover start..end?"""
    islands: list[list[dt.date]] = []
    for lo, hi in sorted(spans):
        if islands and lo <= islands[-1][1] + dt.timedelta(days=1):
            islands[-1][1] = max(islands[-1][1], hi)
        else:
            islands.append([lo, hi])
    return any(lo <= start and hi >= end for lo, hi in islands)


def line_reason(o: dict, phase: dict, late: bool) -> str | None:
    tier, ordered = int(o["tier"]), date(o["order_date"])
    deviation, confirmed = instant(o["deviation_approved_on"]), instant(o["order_confirmed_on"])
    currency = (o.get("credit_currency") or "").strip().upper()
    cutoff = phase["end"] - dt.timedelta(days=7)
    claimed = (o.get("claimed_program") or "").strip().upper()
    checks = [
        ("not_trade_in", not (o.get("tmp_quote") or "").strip()),
        ("credit_not_usd", currency not in ("", "USD")),
        ("outside_order_window", not phase["start"] <= ordered <= phase["end"]),
        ("outside_measured_window", late and ordered < phase["second_half"]),
        ("internal_use", not yes(o["resale"])),
        ("not_from_customer_network", not yes(o["from_customer_network"])),
        ("tier2_after_cutoff", tier == 2 and ordered > cutoff),
        ("deviation_not_approved_in_time", tier == 2 and not approved_before(deviation, confirmed)),
        (f"claimed_under_{claimed}", claimed in ("MSCP", "OIP", "SIP")),
    ]
    return next((name for name, failed in checks if failed), None)


def enrollment_reasons(enrollments: list[dict], deadline: dt.date) -> list[str]:
    """Why none of a partner's enrollments of a phase takes part: every gate that failed."""
    submitted = [e for e in enrollments if e["status"] != "draft" and date(e["submitted_on"])]
    facts = [
        ("enrollment_not_submitted", not submitted),
        ("enrollment_late", any(date(e["submitted_on"]) > deadline for e in submitted)),
        ("enrollment_pending", any(e["status"] == "submitted" for e in enrollments)),
        ("enrollment_rejected", any(e["status"] == "rejected" for e in enrollments)),
        ("enrollment_withdrawn", any(e["status"] == "withdrawn" for e in enrollments)),
    ]
    return [name for name, failed in facts if failed]


def run(folder: Path) -> dict[str, list[dict]]:
    folder = Path(folder)
    country = {p["partner_id"]: p["country"] for p in read(folder, "partners")}
    certs = defaultdict(list)
    for c in read(folder, "certifications"):
        if c["level"] in LEVELS:
            certs[c["partner_id"]].append((date(c["valid_from"]), date(c["valid_to"])))
    enrollments = read(folder, "enrollments")
    received = defaultdict(list)
    for r in read(folder, "returns"):
        received[r["rma_number"]].append(date(r["received_on"]))
    for c in read(folder, "cases"):
        if c["status"].strip().lower() == "confirmed" and date(c["resolved_on"]):
            received[c["rma_number"]].append(date(c["resolved_on"]))
    orders = read(folder, "orders")
    payouts, evaluations, credits = [], [], []
    for period, phase in PHASES.items():
        mine = [e for e in enrollments if int(e["phase"]) == phase["number"]]
        lines = defaultdict(list)
        for o in orders:
            if phase["start"] <= date(o["order_date"]) <= phase["end"]:
                lines[o["partner_id"]].append(o)
        for partner in sorted({e["partner_id"] for e in mine} | set(lines)):
            approved = [e for e in mine if e["partner_id"] == partner and e["status"] == "approved"]
            # The enrollment that decides is one taking part (approved, submitted by the
            # deadline): late only when every such enrollment takes effect in the second half.
            taking_part = [e for e in approved if date(e["submitted_on"])
                           and date(e["submitted_on"]) <= phase["deadline"]]
            late = bool(phase["second_half"]) and bool(taking_part) and all(
                date(e["effective_from"]) >= phase["second_half"] for e in taking_part)
            counting = []
            for o in lines[partner]:
                reason = line_reason(o, phase, late)
                credits.append({"payee_id": partner, "period": period, "source_id": o["line_id"],
                                "counts": reason is None, "reason": reason})
                if reason is None:
                    counting.append(o)
            static = [] if taking_part else enrollment_reasons(
                [e for e in mine if e["partner_id"] == partner], phase["deadline"])
            if country.get(partner) not in phase["countries"]:
                static.append("country_not_eligible")
            if not covered(certs[partner], phase["start"], phase["end"]):
                static.append("certification_not_valid")
            paid = None
            for number, as_of in enumerate(phase["evaluations"], 1):
                counts = [o for o in counting if int(o["tier"]) == 1 or all(
                    date(o[f]) and date(o[f]) <= as_of
                    for f in ("shipped_on", "invoiced_on", "reported_on"))]
                value = sum((Decimal(o["trade_in_credit"]) for o in counts), Decimal(0))
                back = sum((Decimal(o["trade_in_credit"]) for o in counts
                            if any(d <= as_of for d in received[o["rma_number"]])), Decimal(0))
                failing = list(static)
                if value < phase["minimum"]:
                    failing.append("minimum_not_reached")
                if value > 0 and back < Decimal("0.85") * value:
                    failing.append("returns_below_85")
                ratio = (back / value).quantize(Decimal("0.0001"), ROUND_HALF_UP) if value else None
                evaluations.append({"payee_id": partner, "period": period, "evaluation": str(number),
                                    "passed": not failing, "reason": "; ".join(failing) or None,
                                    "value": value.quantize(Decimal("0.01")), "ratio": ratio})
                last_reason = "; ".join(failing) or None
                if not failing:
                    paid = (Decimal("0.15") * value).quantize(Decimal("0.01"), ROUND_HALF_UP)
                    break
            payouts.append({"payee_id": partner, "period": period, "measure": "rebate",
                            "source_id": "", "amount": paid if paid is not None else Decimal("0.00"),
                            "paid": paid is not None,
                            "reason": None if paid is not None else last_reason})
    return {"payouts": payouts, "evaluations": evaluations, "credits": credits}


if __name__ == "__main__":
    for row in run(Path(sys.argv[1]))["payouts"]:
        print(row)
