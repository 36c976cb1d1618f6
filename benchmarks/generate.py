"""Synthetic input for the three example programs, at a chosen size, seeded and skewed.

    python benchmarks/generate.py --program generuj-leady --lines 1000000 --out /tmp/gl-1m

Writes one Parquet file per input table of the program's plan. Payees are drawn from a
Zipf-like distribution (a few large partners or reps, many small ones). Every table is
vectorised with NumPy and written in chunks of CHUNK rows: only small integer arrays
(which partner, customer and day each registration or sale has) are held for the whole
size, so 100M lines are generated in a few GiB of memory. The same program, size and seed
always give the same files.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from paymaster.changes import ROW_GROUP_ROWS

PROGRAMS = ("generuj-leady", "trade-in-accelerator", "sales-team")
CHUNK = 2_000_000
# Parquet row groups of a fixed size, as paymaster.changes writes them: a file rewritten
# with one row changed keeps its other row groups byte for byte (incremental runs hash
# only the groups that differ).
ROW_GROUP = ROW_GROUP_ROWS

Chunks = Callable[[], Iterator[pa.Table]]


def skewed(rng: np.random.Generator, count: int, size: int, exponent: float = 1.2) -> np.ndarray:
    """Indexes 0..count-1, index i drawn with weight 1/(i+1)^exponent."""
    weights = 1.0 / np.arange(1, count + 1) ** exponent
    return rng.choice(count, size=size, p=weights / weights.sum())


def day_numbers(rng: np.random.Generator, start: dt.date, end: dt.date, size: int) -> np.ndarray:
    """Days after `start` (small integers, so a whole column of 100M fits in 200 MB)."""
    return rng.integers(0, (end - start).days + 1, size, dtype=np.int16)


def as_days(start: dt.date, numbers: np.ndarray) -> np.ndarray:
    return np.datetime64(start) + numbers.astype("timedelta64[D]")


def ids(prefix: str, values: np.ndarray, width: int = 7) -> pa.Array:
    return pa.array(np.char.add(prefix, np.char.zfill(values.astype(str), width)))


def money(rng: np.random.Generator, low: int, high: int, size: int) -> pa.Array:
    """Amounts with cents, as exact decimals (never through a float)."""
    cents = rng.integers(low * 100, high * 100, size)
    text = np.char.add(np.char.add((cents // 100).astype(str), "."),
                       np.char.zfill((cents % 100).astype(str), 2))
    return pa.array(text).cast(pa.decimal128(18, 4))


def nip_numbers(count: int) -> np.ndarray:
    """Valid Polish NIPs as ten-digit integers: nine digits and the check digit (sum of
    weights mod 11; a base whose check would be 10 is skipped)."""
    found, start, parts = 0, 100_000_000, []
    while found < count:
        base = np.arange(start, start + min(CHUNK, 2 * (count - found) + 16), dtype=np.int64)
        start = int(base[-1]) + 1
        digits = (base[:, None] // 10 ** np.arange(8, -1, -1)) % 10
        check = (digits * np.array([6, 5, 7, 2, 3, 4, 5, 6, 7])).sum(axis=1) % 11
        valid = base[check != 10] * 10 + check[check != 10]
        parts.append(valid[: count - found])
        found += len(parts[-1])
    return np.concatenate(parts)


def nips(count: int) -> np.ndarray:
    return nip_numbers(count).astype(str)


def chunked(total: int, seed: int, table_no: int,
            make: Callable[[np.random.Generator, int, int], pa.Table]) -> Chunks:
    """Rows [start, stop) of a table, CHUNK at a time, each chunk with its own seeded
    generator so the files do not depend on how much memory the machine has."""
    def chunks() -> Iterator[pa.Table]:
        for start in range(0, total, CHUNK):
            stop = min(total, start + CHUNK)
            yield make(np.random.default_rng([seed, table_no, start]), start, stop)
    return chunks


def whole(table: Callable[[], pa.Table]) -> Chunks:
    return lambda: iter([table()])


def generuj_leady(lines: int, seed: int) -> dict[str, Chunks]:
    rng = np.random.default_rng(seed)
    partners = max(50, lines // 2000)
    customers = max(200, lines // 5)
    customer_nips = nip_numbers(customers)
    partner_ids = ids("P", np.arange(partners), 5)
    start, end = dt.date(2018, 3, 1), dt.date(2018, 7, 10)
    registrations = max(100, lines // 2)
    # What sales need to know of every registration, as small integers.
    reg_partner = skewed(rng, partners, registrations).astype(np.int32)
    reg_customer = rng.integers(0, customers, registrations, dtype=np.int32)
    reg_family = rng.integers(0, 3, registrations, dtype=np.int8)
    families = np.array(["M365", "O365", "D365"])
    partner_rng = np.random.default_rng([seed, 99])

    def registration_rows(rng, first, stop):
        size = stop - first
        day = as_days(start, day_numbers(rng, start, end, size))
        text = pa.array(["x"] * size)
        return pa.table({
            "registration_id": ids("R", np.arange(first, stop)),
            "partner_id": partner_ids.take(pa.array(reg_partner[first:stop])),
            "submitted_at": pa.array(day.astype("datetime64[s]")
                                     + rng.integers(8, 18, size).astype("timedelta64[h]")),
            "customer_name": text, "customer_address": text,
            "customer_nip": pa.array(customer_nips[reg_customer[first:stop]].astype(str)),
            "family": pa.array(families[reg_family[first:stop]]),
            "plan": pa.array(["E3"] * size),
            "licences": pa.array(rng.integers(3, 300, size)),
            "pcs": pa.array(rng.integers(3, 300, size)),
            "partner_name": text, "partner_address": text,
            "partner_nip": pa.array(["5260250274"] * size),
            "contact_name": text, "contact_phone": text, "contact_email": text,
            "decision": pa.array([None] * size, pa.string()),
            "decision_reason": pa.array([None] * size, pa.string()),
        })

    def sale_rows(rng, first, stop):
        size = stop - first
        # Most sales follow a registration of the same partner, customer and family.
        reg = rng.integers(0, registrations, size)
        follows = rng.random(size) < 0.8
        partner = np.where(follows, reg_partner[reg], skewed(rng, partners, size))
        customer = np.where(follows, reg_customer[reg], rng.integers(0, customers, size))
        family = np.where(follows, reg_family[reg], rng.integers(0, 3, size))
        return pa.table({
            "sale_id": ids("S", np.arange(first, stop), 9),
            "partner_id": partner_ids.take(pa.array(partner)),
            "customer_nip": pa.array(customer_nips[customer].astype(str)),
            "family": pa.array(families[family]), "plan": pa.array(["E3"] * size),
            "billing": pa.array(np.where(rng.random(size) < 0.7, "annual", "monthly")),
            "licences": pa.array(np.minimum(rng.zipf(1.6, size) + 1, 900)),
            "unit_price": money(rng, 5, 90, size),
            "order_date": pa.array(as_days(start, day_numbers(rng, start, end, size))),
        })

    def customer_rows(rng, first, stop):
        size = stop - first
        return pa.table({
            "nip": pa.array(customer_nips[first:stop].astype(str)),
            "name": pa.array(["Customer"] * size), "address": pa.array(["Lodz"] * size),
            "country": pa.array(["PL"] * size),
            "segment": pa.array(np.where(rng.random(size) < 0.9, "commercial_smb",
                                         "commercial_enterprise")),
        })

    held = customers // 10
    registered = customers // 50
    return {
        "partners": whole(lambda: pa.table({
            "partner_id": partner_ids, "name": pa.array(["Partner"] * partners),
            "address": pa.array(["Warszawa"] * partners),
            "country": pa.array(np.where(partner_rng.random(partners) < 0.97, "PL", "DE")),
            "nip": pa.array(nips(partners)),
            "new_to_program": pa.array(partner_rng.random(partners) < 0.3),
            "removed_on": pa.array([None] * partners, pa.date32()),
            "removal_reason": pa.array([None] * partners, pa.string()),
        })),
        "customers": chunked(customers, seed, 1, customer_rows),
        "holdings": whole(lambda: pa.table({
            "customer_nip": pa.array(customer_nips[:held].astype(str)),
            "family": pa.array(["O365"] * held), "plan": pa.array(["E1"] * held),
            "since": pa.array([dt.date(2017, 1, 1)] * held),
        })),
        "vendor_registry": whole(lambda: pa.table({
            "customer_nip": pa.array(customer_nips[customers - registered:].astype(str)),
            "family": pa.array(["M365"] * registered),
            "registered_on": pa.array([dt.date(2018, 1, 1)] * registered),
        })),
        "registrations": chunked(registrations, seed, 2, registration_rows),
        "sales": chunked(lines, seed, 3, sale_rows),
    }


def trade_in(lines: int, seed: int) -> dict[str, Chunks]:
    rng = np.random.default_rng(seed)
    partners = max(50, lines // 1000)
    partner_ids = ids("T", np.arange(partners), 5)
    countries = np.array(["CN", "KR", "AU", "SG", "IN", "JP"])
    programs = np.array(["", "VIP", "OIP", "MSCP", "SIP"])
    enroll = np.repeat(np.arange(partners), 2)
    start = dt.date(2008, 1, 27)

    def order_rows(rng, first, stop):
        size = stop - first
        tier = rng.integers(1, 3, size)
        order_day = as_days(start, day_numbers(rng, start, dt.date(2008, 10, 25), size))
        confirmed = order_day + rng.integers(0, 3, size).astype("timedelta64[D]")
        deviation = confirmed - rng.integers(-1, 5, size).astype("timedelta64[D]")
        shipped = order_day + rng.integers(1, 60, size).astype("timedelta64[D]")
        reported = shipped + rng.integers(1, 200, size).astype("timedelta64[D]")
        claimed = programs[np.where(rng.random(size) < 0.9, 0, rng.integers(1, 5, size))]
        tier_two = tier == 2
        table = pa.table({
            "line_id": ids("L", np.arange(first, stop), 9),
            "partner_id": partner_ids.take(pa.array(skewed(rng, partners, size))),
            "sales_order": ids("SO", np.arange(first, stop), 9),
            "tmp_quote": pa.array(np.where(rng.random(size) < 0.95, "Q", None)),
            "order_date": pa.array(order_day), "trade_in_credit": money(rng, 100, 20000, size),
            "resale": pa.array(rng.random(size) < 0.97),
            "from_customer_network": pa.array(rng.random(size) < 0.97),
            "tier": pa.array(tier), "order_confirmed_on": pa.array(confirmed),
            "deviation_approved_on": pa.array(np.where(tier_two, deviation, np.datetime64("NaT"))),
            "shipped_on": pa.array(np.where(tier_two, shipped, np.datetime64("NaT"))),
            "invoiced_on": pa.array(np.where(tier_two, shipped, np.datetime64("NaT"))),
            "reported_on": pa.array(np.where(tier_two, reported, np.datetime64("NaT"))),
            "claimed_program": pa.array(np.where(claimed == "", None, claimed)),
            "rma_number": ids("RMA", np.arange(first, stop), 9),
            # Not an input column: the return of this line, split off into `returns`.
            "_received_on": pa.array(order_day + rng.integers(10, 300, size)
                                     .astype("timedelta64[D]")),
            "_returned": pa.array(rng.random(size) < 0.9),
        })
        # Drawn last, so every column above stays as it was before these existed. Half the
        # confirmations and approvals carry a time of day (the rest are bare dates, read as
        # 00:00:00), so same-day pairs are decided both ways; a few credits are not in USD.
        def at_times(days: np.ndarray) -> pa.Array:
            seconds = np.where(rng.random(size) < 0.5, 0, rng.integers(1, 86400, size))
            return pa.array(days.astype("datetime64[s]") + seconds.astype("timedelta64[s]"))

        table = table.set_column(table.schema.get_field_index("order_confirmed_on"),
                                 "order_confirmed_on", at_times(confirmed))
        approved = at_times(deviation)
        table = table.set_column(table.schema.get_field_index("deviation_approved_on"),
                                 "deviation_approved_on",
                                 pc.if_else(pa.array(tier_two), approved,
                                            pa.nulls(size, approved.type)))
        currency = np.array(["USD", "", "AUD", "EUR", "usd"])[
            np.where(rng.random(size) < 0.96, rng.integers(0, 2, size), rng.integers(2, 5, size))]
        return table.add_column(table.schema.get_field_index("trade_in_credit") + 1,
                                "credit_currency", pa.array(np.where(currency == "", None, currency)))

    def orders():
        for table in chunked(lines, seed, 1, order_rows)():
            yield table.drop_columns(["_received_on", "_returned"])

    def returns():
        for table in chunked(lines, seed, 1, order_rows)():
            kept = table.filter(table["_returned"])
            yield pa.table({"rma_number": kept["rma_number"],
                            "received_on": kept["_received_on"]})

    return {
        "partners": whole(lambda: pa.table({
            "partner_id": partner_ids, "name": pa.array(["Partner"] * partners),
            "country": pa.array(countries[rng.integers(0, 6, partners)])})),
        "certifications": whole(lambda: pa.table({
            "partner_id": partner_ids, "level": pa.array(["Gold"] * partners),
            "valid_from": pa.array([dt.date(2007, 1, 1)] * partners),
            "valid_to": pa.array(np.where(rng.random(partners) < 0.9, np.datetime64("2010-01-01"),
                                          np.datetime64("2008-03-01"))),
        })),
        "enrollments": whole(lambda: pa.table({
            "enrollment_id": ids("E", np.arange(partners * 2)),
            "partner_id": partner_ids.take(pa.array(enroll)),
            "phase": pa.array(np.tile([6, 7], partners)),
            "status": pa.array(np.where(rng.random(partners * 2) < 0.9, "approved", "rejected")),
            "submitted_on": pa.array(np.tile([np.datetime64("2008-02-01"),
                                              np.datetime64("2008-05-01")], partners)),
            "effective_from": pa.array(np.tile([np.datetime64("2008-02-01"),
                                                np.datetime64("2008-05-01")], partners)),
        })),
        "orders": orders,
        "returns": returns,
        "cases": whole(lambda: pa.table({"case_id": pa.array([], pa.string()),
                                         "rma_number": pa.array([], pa.string()),
                                         "status": pa.array([], pa.string()),
                                         "resolved_on": pa.array([], pa.date32())})),
    }


def sales_team(lines: int, seed: int) -> dict[str, Chunks]:
    rng = np.random.default_rng(seed)
    reps = max(20, lines // 5000)
    teams = max(2, reps // 10)
    rep_ids = ids("R", np.arange(reps), 5)
    team_ids = ids("T", np.arange(teams), 3)
    quarters = [f"2025-Q{q}" for q in range(1, 5)]
    customers = max(100, lines // 20)
    per_rep_quarter = lines / reps / 4 * 50
    start = dt.date(2024, 7, 1)
    # Returns need the day of the sale they return: every sale's day, as small integers.
    order_day = day_numbers(rng, start, dt.date(2025, 12, 31), lines)
    returns = max(1, lines // 100)
    returned = np.sort(rng.choice(lines, returns, replace=False))

    def sale_rows(rng, first, stop):
        size = stop - first
        return pa.table({
            "sale_id": ids("S", np.arange(first, stop), 9),
            "rep_id": rep_ids.take(pa.array(skewed(rng, reps, size, 0.6))),
            "customer_id": ids("C", rng.integers(0, customers, size)),
            "product": pa.array(np.where(rng.random(size) < 0.2, "new", "core")),
            "new_product": pa.array(rng.random(size) < 0.2),
            "amount": money(rng, 10, 100, size),
            "order_date": pa.array(as_days(start, order_day[first:stop])),
        })

    def return_rows(rng, first, stop):
        size = stop - first
        sale = returned[first:stop]
        return pa.table({
            "return_id": ids("X", np.arange(first, stop)),
            "sale_id": ids("S", sale, 9),
            "amount": pc.negate(money(rng, 1, 10, size)),
            "return_date": pa.array(as_days(start, order_day[sale])
                                    + rng.integers(1, 120, size).astype("timedelta64[D]")),
        })

    return {
        "reps": whole(lambda: pa.table({
            "rep_id": rep_ids, "name": pa.array(["Rep"] * reps),
            "team_id": team_ids.take(pa.array(np.arange(reps) % teams))})),
        "teams": whole(lambda: pa.table({
            "team_id": team_ids, "name": pa.array(["Team"] * teams),
            "manager_id": ids("M", np.arange(teams), 3)})),
        "rep_targets": whole(lambda: pa.table({
            "rep_id": rep_ids.take(pa.array(np.repeat(np.arange(reps), 4))),
            "period": pa.array(quarters * reps),
            "target": money(rng, int(per_rep_quarter * 0.5), int(per_rep_quarter * 1.5) + 2,
                            reps * 4),
        })),
        "team_targets": whole(lambda: pa.table({
            "team_id": team_ids.take(pa.array(np.repeat(np.arange(teams), 4))),
            "quarter": pa.array(quarters * teams),
            "target": money(rng, int(per_rep_quarter * 8), int(per_rep_quarter * 12) + 2,
                            teams * 4),
        })),
        "sales": chunked(lines, seed, 1, sale_rows),
        "returns": chunked(returns, seed, 2, return_rows),
        "scores": whole(lambda: pa.table({
            "rep_id": rep_ids.take(pa.array(np.repeat(np.arange(reps), 4))),
            "quarter": pa.array(quarters * reps),
            "csat": money(rng, 3, 5, reps * 4),
            "training": money(rng, 60, 100, reps * 4),
        })),
    }


GENERATORS = {"generuj-leady": generuj_leady, "trade-in-accelerator": trade_in,
              "sales-team": sales_team}


def _write_groups(writer: pq.ParquetWriter, table: pa.Table) -> None:
    """Row groups of ROW_GROUP rows (the last may be short) from contiguous arrays, as
    paymaster.changes.write makes them: the same rows give the same bytes."""
    writer.write_table(table.combine_chunks(), row_group_size=ROW_GROUP)


def generate(program: str, lines: int, out: Path, seed: int = 7,
             progress: Callable[[str], None] | None = None) -> Path:
    """Write the program's input tables as Parquet files in `out`; the files appear only
    once complete (written under a temporary name, then renamed)."""
    out.mkdir(parents=True, exist_ok=True)
    for name, chunks in GENERATORS[program](lines, seed).items():
        started, rows = time.perf_counter(), 0
        partial = out / f".{name}.parquet.partial"
        writer, pending = None, None
        try:
            for table in chunks():
                if writer is None:
                    writer = pq.ParquetWriter(partial, table.schema)
                rows += table.num_rows
                pending = table if pending is None else pa.concat_tables([pending, table])
                whole = pending.num_rows - pending.num_rows % ROW_GROUP
                if whole:
                    _write_groups(writer, pending.slice(0, whole))
                    pending = pending.slice(whole)
            if pending is not None and pending.num_rows:
                _write_groups(writer, pending)
        finally:
            if writer is not None:
                writer.close()
        partial.rename(out / f"{name}.parquet")
        if progress:
            progress(f"{name}: {rows:,} rows in {time.perf_counter() - started:.1f} s")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--program", choices=PROGRAMS, required=True)
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    say = lambda text: print(text, file=sys.stderr, flush=True)  # noqa: E731
    print(generate(args.program, args.lines, args.out, args.seed, progress=say))


if __name__ == "__main__":
    main()
