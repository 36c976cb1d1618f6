"""Synthetic input for the three example programs, at a chosen size, seeded and skewed.

    python benchmarks/generate.py --program generuj-leady --lines 1000000 --out /tmp/gl-1m

Writes one Parquet file per input table of the program's plan. Payees are drawn from a
Zipf-like distribution (a few large partners or reps, many small ones); every table is
vectorised with NumPy, so 10M lines take seconds, not minutes.
"""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

PROGRAMS = ("generuj-leady", "trade-in-accelerator", "sales-team")


def skewed(rng: np.random.Generator, count: int, size: int, exponent: float = 1.2) -> np.ndarray:
    """Indexes 0..count-1, index i drawn with weight 1/(i+1)^exponent."""
    weights = 1.0 / np.arange(1, count + 1) ** exponent
    return rng.choice(count, size=size, p=weights / weights.sum())


def days(rng: np.random.Generator, start: dt.date, end: dt.date, size: int) -> np.ndarray:
    span = (end - start).days + 1
    return np.datetime64(start) + rng.integers(0, span, size).astype("timedelta64[D]")


def ids(prefix: str, values: np.ndarray, width: int = 7) -> pa.Array:
    return pa.array(np.char.add(prefix, np.char.zfill(values.astype(str), width)))


def money(rng: np.random.Generator, low: int, high: int, size: int) -> pa.Array:
    """Amounts with cents, as exact decimals (never through a float)."""
    cents = rng.integers(low * 100, high * 100, size)
    text = np.char.add(np.char.add((cents // 100).astype(str), "."),
                       np.char.zfill((cents % 100).astype(str), 2))
    return pa.array(text).cast(pa.decimal128(18, 4))


def nips(count: int) -> np.ndarray:
    """Valid Polish NIPs: nine digits and the check digit (sum of weights mod 11)."""
    base = np.arange(100_000_000, 100_000_000 + count * 2)
    digits = (base[:, None] // 10 ** np.arange(8, -1, -1)) % 10
    check = (digits * np.array([6, 5, 7, 2, 3, 4, 5, 6, 7])).sum(axis=1) % 11
    valid = check != 10
    return np.char.add(base[valid].astype(str), check[valid].astype(str))[:count]


def generuj_leady(lines: int, seed: int) -> dict[str, pa.Table]:
    rng = np.random.default_rng(seed)
    partners = max(50, lines // 2000)
    customers = max(200, lines // 5)
    customer_nips = nips(customers)
    partner_ids = ids("P", np.arange(partners), 5)
    start, end = dt.date(2018, 3, 1), dt.date(2018, 7, 10)
    registrations = max(100, lines // 2)
    reg_partner = skewed(rng, partners, registrations)
    reg_customer = rng.integers(0, customers, registrations)
    families = np.array(["M365", "O365", "D365"])
    reg_family = families[rng.integers(0, 3, registrations)]
    # Most sales follow a registration of the same partner, customer and family.
    sale_reg = rng.integers(0, registrations, lines)
    follows = rng.random(lines) < 0.8
    sale_partner = np.where(follows, reg_partner[sale_reg], skewed(rng, partners, lines))
    sale_customer = np.where(follows, reg_customer[sale_reg], rng.integers(0, customers, lines))
    sale_family = np.where(follows, reg_family[sale_reg], families[rng.integers(0, 3, lines)])
    reg_day = days(rng, start, end, registrations)
    submitted = pa.array(reg_day.astype("datetime64[s]") + rng.integers(8, 18, registrations)
                         .astype("timedelta64[h]"))
    text = pa.array(["x"] * registrations)
    return {
        "partners": pa.table({
            "partner_id": partner_ids, "name": pa.array(["Partner"] * partners),
            "address": pa.array(["Warszawa"] * partners),
            "country": pa.array(np.where(rng.random(partners) < 0.97, "PL", "DE")),
            "nip": pa.array(nips(partners)),
            "new_to_program": pa.array(rng.random(partners) < 0.3),
            "removed_on": pa.array([None] * partners, pa.date32()),
            "removal_reason": pa.array([None] * partners, pa.string()),
        }),
        "customers": pa.table({
            "nip": pa.array(customer_nips), "name": pa.array(["Customer"] * customers),
            "address": pa.array(["Lodz"] * customers), "country": pa.array(["PL"] * customers),
            "segment": pa.array(np.where(rng.random(customers) < 0.9, "commercial_smb",
                                         "commercial_enterprise")),
        }),
        "holdings": pa.table({
            "customer_nip": pa.array(customer_nips[: customers // 10]),
            "family": pa.array(["O365"] * (customers // 10)),
            "plan": pa.array(["E1"] * (customers // 10)),
            "since": pa.array([dt.date(2017, 1, 1)] * (customers // 10)),
        }),
        "vendor_registry": pa.table({
            "customer_nip": pa.array(customer_nips[-customers // 50:]),
            "family": pa.array(["M365"] * (customers // 50)),
            "registered_on": pa.array([dt.date(2018, 1, 1)] * (customers // 50)),
        }),
        "registrations": pa.table({
            "registration_id": ids("R", np.arange(registrations)),
            "partner_id": partner_ids.take(pa.array(reg_partner)),
            "submitted_at": submitted,
            "customer_name": text, "customer_address": text,
            "customer_nip": pa.array(customer_nips[reg_customer]),
            "family": pa.array(reg_family), "plan": pa.array(["E3"] * registrations),
            "licences": pa.array(rng.integers(3, 300, registrations)),
            "pcs": pa.array(rng.integers(3, 300, registrations)),
            "partner_name": text, "partner_address": text,
            "partner_nip": pa.array(["5260250274"] * registrations),
            "contact_name": text, "contact_phone": text, "contact_email": text,
            "decision": pa.array([None] * registrations, pa.string()),
            "decision_reason": pa.array([None] * registrations, pa.string()),
        }),
        "sales": pa.table({
            "sale_id": ids("S", np.arange(lines), 9),
            "partner_id": partner_ids.take(pa.array(sale_partner)),
            "customer_nip": pa.array(customer_nips[sale_customer]),
            "family": pa.array(sale_family), "plan": pa.array(["E3"] * lines),
            "billing": pa.array(np.where(rng.random(lines) < 0.7, "annual", "monthly")),
            "licences": pa.array(np.minimum(rng.zipf(1.6, lines) + 1, 900)),
            "unit_price": money(rng, 5, 90, lines),
            "order_date": pa.array(days(rng, start, end, lines)),
        }),
    }


def trade_in(lines: int, seed: int) -> dict[str, pa.Table]:
    rng = np.random.default_rng(seed)
    partners = max(50, lines // 1000)
    partner_ids = ids("T", np.arange(partners), 5)
    countries = np.array(["CN", "KR", "AU", "SG", "IN", "JP"])
    tier = rng.integers(1, 3, lines)
    order_day = days(rng, dt.date(2008, 1, 27), dt.date(2008, 10, 25), lines)
    confirmed = order_day + rng.integers(0, 3, lines).astype("timedelta64[D]")
    deviation = confirmed - rng.integers(-1, 5, lines).astype("timedelta64[D]")
    shipped = order_day + rng.integers(1, 60, lines).astype("timedelta64[D]")
    reported = shipped + rng.integers(1, 200, lines).astype("timedelta64[D]")
    rma = ids("RMA", np.arange(lines), 9)
    returned = rng.random(lines) < 0.9
    received = order_day + rng.integers(10, 300, lines).astype("timedelta64[D]")
    programs = np.array(["", "VIP", "OIP", "MSCP", "SIP"])
    claimed = programs[np.where(rng.random(lines) < 0.9, 0, rng.integers(1, 5, lines))]
    enroll = np.repeat(np.arange(partners), 2)
    return {
        "partners": pa.table({"partner_id": partner_ids,
                              "name": pa.array(["Partner"] * partners),
                              "country": pa.array(countries[rng.integers(0, 6, partners)])}),
        "certifications": pa.table({
            "partner_id": partner_ids, "level": pa.array(["Gold"] * partners),
            "valid_from": pa.array([dt.date(2007, 1, 1)] * partners),
            "valid_to": pa.array(np.where(rng.random(partners) < 0.9, np.datetime64("2010-01-01"),
                                          np.datetime64("2008-03-01"))),
        }),
        "enrollments": pa.table({
            "enrollment_id": ids("E", np.arange(partners * 2)),
            "partner_id": partner_ids.take(pa.array(enroll)),
            "phase": pa.array(np.tile([6, 7], partners)),
            "status": pa.array(np.where(rng.random(partners * 2) < 0.9, "approved", "rejected")),
            "submitted_on": pa.array(np.tile([np.datetime64("2008-02-01"),
                                              np.datetime64("2008-05-01")], partners)),
            "effective_from": pa.array(np.tile([np.datetime64("2008-02-01"),
                                                np.datetime64("2008-05-01")], partners)),
        }),
        "orders": pa.table({
            "line_id": ids("L", np.arange(lines), 9),
            "partner_id": partner_ids.take(pa.array(skewed(rng, partners, lines))),
            "sales_order": ids("SO", np.arange(lines), 9),
            "tmp_quote": pa.array(np.where(rng.random(lines) < 0.95, "Q", None)),
            "order_date": pa.array(order_day), "trade_in_credit": money(rng, 100, 20000, lines),
            "resale": pa.array(rng.random(lines) < 0.97),
            "from_customer_network": pa.array(rng.random(lines) < 0.97),
            "tier": pa.array(tier), "order_confirmed_on": pa.array(confirmed),
            "deviation_approved_on": pa.array(np.where(tier == 2, deviation, np.datetime64("NaT"))),
            "shipped_on": pa.array(np.where(tier == 2, shipped, np.datetime64("NaT"))),
            "invoiced_on": pa.array(np.where(tier == 2, shipped, np.datetime64("NaT"))),
            "reported_on": pa.array(np.where(tier == 2, reported, np.datetime64("NaT"))),
            "claimed_program": pa.array(np.where(claimed == "", None, claimed)),
            "rma_number": rma,
        }),
        "returns": pa.table({"rma_number": rma.filter(pa.array(returned)),
                             "received_on": pa.array(received[returned])}),
        "cases": pa.table({"case_id": pa.array([], pa.string()),
                           "rma_number": pa.array([], pa.string()),
                           "status": pa.array([], pa.string()),
                           "resolved_on": pa.array([], pa.date32())}),
    }


def sales_team(lines: int, seed: int) -> dict[str, pa.Table]:
    rng = np.random.default_rng(seed)
    reps = max(20, lines // 5000)
    teams = max(2, reps // 10)
    rep_ids = ids("R", np.arange(reps), 5)
    team_ids = ids("T", np.arange(teams), 3)
    quarters = [f"2025-Q{q}" for q in range(1, 5)]
    sale_rep = skewed(rng, reps, lines, 0.6)
    customers = max(100, lines // 20)
    per_rep_quarter = lines / reps / 4 * 50
    returns = max(1, lines // 100)
    returned = rng.choice(lines, returns, replace=False)
    order_day = days(rng, dt.date(2024, 7, 1), dt.date(2025, 12, 31), lines)
    return {
        "reps": pa.table({"rep_id": rep_ids, "name": pa.array(["Rep"] * reps),
                          "team_id": team_ids.take(pa.array(np.arange(reps) % teams))}),
        "teams": pa.table({"team_id": team_ids, "name": pa.array(["Team"] * teams),
                           "manager_id": ids("M", np.arange(teams), 3)}),
        "rep_targets": pa.table({
            "rep_id": rep_ids.take(pa.array(np.repeat(np.arange(reps), 4))),
            "period": pa.array(quarters * reps),
            "target": money(rng, int(per_rep_quarter * 0.5), int(per_rep_quarter * 1.5) + 2,
                            reps * 4),
        }),
        "team_targets": pa.table({
            "team_id": team_ids.take(pa.array(np.repeat(np.arange(teams), 4))),
            "quarter": pa.array(quarters * teams),
            "target": money(rng, int(per_rep_quarter * 8), int(per_rep_quarter * 12) + 2,
                            teams * 4),
        }),
        "sales": pa.table({
            "sale_id": ids("S", np.arange(lines), 9),
            "rep_id": rep_ids.take(pa.array(sale_rep)),
            "customer_id": ids("C", rng.integers(0, customers, lines)),
            "product": pa.array(np.where(rng.random(lines) < 0.2, "new", "core")),
            "new_product": pa.array(rng.random(lines) < 0.2),
            "amount": money(rng, 10, 100, lines),
            "order_date": pa.array(order_day),
        }),
        "returns": pa.table({
            "return_id": ids("X", np.arange(returns)),
            "sale_id": ids("S", returned, 9),
            "amount": pc.negate(money(rng, 1, 10, returns)),
            "return_date": pa.array(order_day[returned]
                                    + rng.integers(1, 120, returns).astype("timedelta64[D]")),
        }),
        "scores": pa.table({
            "rep_id": rep_ids.take(pa.array(np.repeat(np.arange(reps), 4))),
            "quarter": pa.array(quarters * reps),
            "csat": money(rng, 3, 5, reps * 4),
            "training": money(rng, 60, 100, reps * 4),
        }),
    }


GENERATORS = {"generuj-leady": generuj_leady, "trade-in-accelerator": trade_in,
              "sales-team": sales_team}


def generate(program: str, lines: int, out: Path, seed: int = 7) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    for name, table in GENERATORS[program](lines, seed).items():
        pq.write_table(table, out / f"{name}.parquet")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--program", choices=PROGRAMS, required=True)
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    print(generate(args.program, args.lines, args.out, args.seed))


if __name__ == "__main__":
    main()
