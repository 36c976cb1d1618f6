"""Small input changes for testing and measuring incremental recalculation.

Each change edits one table of a data folder (CSV or Parquet, kept in its format) the
way a real correction arrives: one corrected record, one late line, one returned RMA...
Rows are chosen with a seeded random generator, so a failing case can be replayed.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.parquet as pq


def read(folder: Path, table: str) -> tuple[pa.Table, str]:
    parquet = folder / f"{table}.parquet"
    if parquet.is_file():
        return pq.read_table(parquet), "parquet"
    path = folder / f"{table}.csv"
    names = pcsv.read_csv(path).column_names
    options = pcsv.ConvertOptions(column_types={n: pa.string() for n in names},
                                  strings_can_be_null=False)
    return pcsv.read_csv(path, convert_options=options), "csv"


# A fixed row-group size: a rewritten file keeps the groups whose rows did not change
# byte for byte, which incremental runs recognise without hashing their rows.
ROW_GROUP_ROWS = 1_000_000


def write(folder: Path, table: str, data: pa.Table, fmt: str) -> None:
    if fmt == "parquet":
        # From contiguous arrays: the writer's pages follow its input's chunks.
        pq.write_table(data.combine_chunks(), folder / f"{table}.parquet",
                       row_group_size=ROW_GROUP_ROWS)
    else:
        pcsv.write_csv(data, folder / f"{table}.csv")


def _cast(value, like):
    """`value` in the representation of `like` (text in CSV, typed in Parquet)."""
    if value is None:
        return None
    if isinstance(like, str) or like is None and isinstance(value, str):
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, Decimal):
            return f"{value:.2f}"
        return value.isoformat() if isinstance(value, dt.date) else str(value)
    return value


def _typed(value, kind: str):
    """A CSV cell as a Python value (for arithmetic)."""
    if value is None or value == "" or not isinstance(value, str):
        return value if value != "" else None
    if kind == "decimal":
        return Decimal(value)
    if kind == "date":
        return dt.date.fromisoformat(value[:10])
    if kind == "timestamp":
        return dt.datetime.fromisoformat(value)
    if kind == "integer":
        return int(value)
    return value


class Folder:
    """One data folder being edited."""

    def __init__(self, path: Path, seed: int = 0):
        self.path = path
        self.rng = random.Random(seed)

    def rows(self, table: str, where: Callable[[dict], bool] | None = None,
             columns: list[str] | None = None) -> list[tuple[int, dict]]:
        data, _ = read(self.path, table)
        if columns:
            data = data.select(columns)
        found = []
        for i, row in enumerate(data.to_pylist()):
            if where is None or where(row):
                found.append((i, row))
        return found

    def pick(self, table: str, where: Callable[[dict], bool] | None = None,
             columns: list[str] | None = None) -> tuple[int, dict]:
        data, _ = read(self.path, table)
        if columns:
            data = data.select(columns)
        for _ in range(min(2000, data.num_rows * 4)):  # sampled: cheap on millions of rows
            index = self.rng.randrange(data.num_rows)
            row = data.slice(index, 1).to_pylist()[0]
            if where is None or where(row):
                return index, row
        found = self.rows(table, where, columns)
        if not found:
            raise LookupError(f"no row of {table} fits")
        return self.rng.choice(found)

    def update(self, table: str, index: int, **values) -> None:
        data, fmt = read(self.path, table)
        row = data.slice(index, 1).to_pylist()[0]
        row.update({k: _cast(v, row.get(k)) for k, v in values.items()})
        new = pa.Table.from_pylist([row], schema=data.schema)
        write(self.path, table, pa.concat_tables([data.slice(0, index), new,
                                                  data.slice(index + 1)]), fmt)

    def append(self, table: str, like: int | dict, **values) -> None:
        data, fmt = read(self.path, table)
        row = dict(data.slice(like, 1).to_pylist()[0]) if isinstance(like, int) else dict(like)
        sample = data.slice(0, 1).to_pylist()[0] if data.num_rows else {}
        row.update({k: _cast(v, sample.get(k, row.get(k))) for k, v in values.items()})
        new = pa.Table.from_pylist([row], schema=data.schema)
        write(self.path, table, pa.concat_tables([data, new]), fmt)

    def write_rows(self, table: str, edit: Callable[[list[dict]], list[dict]]) -> None:
        """Rewrite the table with `edit(rows)` (rows as dicts, in the file's order)."""
        data, fmt = read(self.path, table)
        write(self.path, table, pa.Table.from_pylist(edit(data.to_pylist()), schema=data.schema),
              fmt)

    def delete(self, table: str, index: int) -> None:
        data, fmt = read(self.path, table)
        write(self.path, table, pa.concat_tables([data.slice(0, index), data.slice(index + 1)]), fmt)


def value(row: dict, column: str, kind: str):
    return _typed(row[column], kind)


# -- the kinds of small change, per program; each returns what it did


def _money(amount: Decimal) -> Decimal:
    return amount.quantize(Decimal("0.01"))


def st_corrected_sale(f: Folder) -> str:
    i, row = f.pick("sales", lambda r: str(r["order_date"]) >= "2025")
    amount = _money(value(row, "amount", "decimal") * Decimal("1.37"))
    f.update("sales", i, amount=amount)
    return f"sales {row['sale_id']}: amount -> {amount}"


def st_late_sale(f: Folder) -> str:
    i, row = f.pick("sales", lambda r: str(r["order_date"]) >= "2025")
    f.append("sales", i, sale_id=f"LATE-{f.rng.randrange(10**6)}",
             amount=_money(value(row, "amount", "decimal") / 2))
    return f"sales: late line like {row['sale_id']}"


def st_return(f: Folder) -> str:
    i, row = f.pick("sales", lambda r: str(r["order_date"]) >= "2025")
    day = value(row, "order_date", "date") + dt.timedelta(days=f.rng.choice([10, 60, 120]))
    amount = -_money(value(row, "amount", "decimal") / 3)
    f.append("returns", 0, return_id=f"RET-{f.rng.randrange(10**6)}", sale_id=row["sale_id"],
             amount=amount, return_date=day)
    return f"returns: {amount} of {row['sale_id']} on {day}"


def st_team_move(f: Folder) -> str:
    teams = sorted({r["team_id"] for _, r in f.rows("teams")})
    i, row = f.pick("reps")
    team = f.rng.choice([t for t in teams if t != row["team_id"]])
    f.update("reps", i, team_id=team)
    return f"reps {row['rep_id']}: team {row['team_id']} -> {team}"


def st_ranking_place(f: Folder) -> str:
    i, row = f.pick("sales", lambda r: str(r["order_date"]) >= "2025")
    amount = _money(value(row, "amount", "decimal") * 40 + 100000)
    f.update("sales", i, amount=amount)
    return f"sales {row['sale_id']}: amount -> {amount} (moves rankings)"


def gl_corrected_sale(f: Folder) -> str:
    i, row = f.pick("sales")
    licences = value(row, "licences", "integer") + 7
    f.update("sales", i, licences=licences)
    return f"sales {row['sale_id']}: licences -> {licences}"


def gl_late_sale(f: Folder) -> str:
    _, reg = f.pick("registrations", columns=["partner_id", "customer_nip", "family",
                                              "submitted_at"])
    day = value(reg, "submitted_at", "timestamp").date() + dt.timedelta(days=3)
    f.append("sales", 0, sale_id=f"LATE-{f.rng.randrange(10**6)}", partner_id=reg["partner_id"],
             customer_nip=reg["customer_nip"], family=reg["family"], licences=12, order_date=day)
    return f"sales: late line for {reg['partner_id']} {reg['customer_nip']} {reg['family']}"


def gl_first_wins(f: Folder) -> str:
    """A registration moved before the earliest one of its opportunity: the winner changes.
    (Found with Arrow: millions of registrations as Python rows would take minutes.)"""
    data, _ = read(f.path, "registrations")
    keys = ["customer_nip", "family"]
    at = data["submitted_at"]
    if pa.types.is_string(at.type):
        at = pc.cast(at, pa.timestamp("s"))
    rows = pa.table({"i": pa.array(range(data.num_rows)), "customer_nip": data["customer_nip"],
                     "family": data["family"], "at": at})
    first = rows.group_by(keys).aggregate([("at", "min")])
    rows = rows.join(first, keys).sort_by("i")
    later = pc.filter(rows["i"], pc.greater(rows["at"], rows["at_min"]))
    choice = later if len(later) else rows["i"]
    picked = rows.filter(pc.equal(rows["i"], choice[f.rng.randrange(len(choice))]))
    i = picked["i"][0].as_py()
    before = picked["at_min"][0].as_py() - dt.timedelta(hours=1)
    f.update("registrations", i, submitted_at=before)
    row = data.slice(i, 1).to_pylist()[0]
    return f"registrations {row['registration_id']}: submitted -> {before} (first wins shifts)"


def gl_exhaust_budget(f: Folder) -> str:
    i, row = f.pick("sales")
    f.update("sales", i, unit_price=Decimal("4000.00"), licences=250, billing="annual",
             family="M365")
    return f"sales {row['sale_id']}: 250 licences at 4000 (exhausts the fund)"


def gl_registration_rejected(f: Folder) -> str:
    i, row = f.pick("registrations", columns=["registration_id"])
    f.update("registrations", i, decision="rejected", decision_reason="false information")
    return f"registrations {row['registration_id']}: rejected by the owner"


def ti_corrected_order(f: Folder) -> str:
    i, row = f.pick("orders")
    credit = _money(value(row, "trade_in_credit", "decimal") * 2 + 1000)
    f.update("orders", i, trade_in_credit=credit)
    return f"orders {row['line_id']}: credit -> {credit}"


def ti_late_pos(f: Folder) -> str:
    """A distributor's late point-of-sale report: a tier-2 line now reported earlier."""
    i, row = f.pick("orders", lambda r: str(r["tier"]) == "2")
    day = value(row, "order_date", "date") + dt.timedelta(days=20)
    f.update("orders", i, shipped_on=day, invoiced_on=day, reported_on=day)
    return f"orders {row['line_id']}: shipped, invoiced and reported on {day}"


def ti_returned_rma(f: Folder) -> str:
    returned = {r["rma_number"] for _, r in f.rows("returns")}
    i, row = f.pick("orders", lambda r: r["rma_number"] not in returned)
    day = value(row, "order_date", "date") + dt.timedelta(days=30)
    f.append("returns", 0, rma_number=row["rma_number"], received_on=day)
    return f"returns: {row['rma_number']} received {day}"


def ti_lost_return(f: Folder) -> str:
    i, row = f.pick("returns")
    f.delete("returns", i)
    return f"returns: {row['rma_number']} withdrawn"


def ti_enrollment(f: Folder) -> str:
    i, row = f.pick("enrollments")
    status = "rejected" if row["status"] == "approved" else "approved"
    f.update("enrollments", i, status=status)
    return f"enrollments {row['enrollment_id']}: {row['status']} -> {status}"


CHANGES: dict[str, dict[str, Callable[[Folder], str]]] = {
    "sales-team": {"corrected record": st_corrected_sale, "late line": st_late_sale,
                   "return line": st_return, "team move": st_team_move,
                   "ranking place": st_ranking_place},
    "generuj-leady": {"corrected record": gl_corrected_sale, "late line": gl_late_sale,
                      "first-wins shift": gl_first_wins, "budget exhausted": gl_exhaust_budget,
                      "registration rejected": gl_registration_rejected},
    "trade-in-accelerator": {"corrected record": ti_corrected_order, "late POS report": ti_late_pos,
                             "returned RMA": ti_returned_rma, "return withdrawn": ti_lost_return,
                             "enrollment decision": ti_enrollment},
}
