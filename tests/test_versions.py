"""Effective-dated versions: each deal uses the version in force on its order date."""

from __future__ import annotations

from decimal import Decimal

from conftest import EXAMPLES, FILES
from paymaster.plan import load_plan
from paymaster.runs import calculate

PLAN = EXAMPLES / "generuj-leady" / "plan.yaml"
VARIANT = EXAMPLES / "generuj-leady" / "rate-change.yaml"


def test_variant_differs_from_the_plan_only_by_its_versions() -> None:
    base = load_plan(PLAN).plan.model_dump(exclude={"versions"})
    variant = load_plan(VARIANT).plan
    assert variant.model_dump(exclude={"versions"}) == base
    assert [v.effective_from.isoformat() for v in variant.versions] == ["2018-05-16"]


def test_each_deal_uses_the_version_in_force_on_its_order_date(tmp_path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    for name, text in FILES.items():
        (data / name).write_text(text, encoding="utf-8")
    # Three M365 annual deals of 10 licences at 100.00 (base 12 000.00), each with its own
    # accepted registration: the day before, the day of, and the day after the change.
    regs = FILES["registrations.csv"].splitlines()[0] + "\n"
    sales = FILES["sales.csv"].splitlines()[0] + "\n"
    customers = FILES["customers.csv"]
    nips = ["1234563218", "5213017228", "1111111111"]
    for i, (nip, day) in enumerate(zip(nips, ["2018-05-15", "2018-05-16", "2018-05-17"], strict=True), 1):
        customers += f"{nip},C{i},Lodz,PL,commercial_smb\n"
        regs += (f"R{i},P2,2018-04-0{i} 09:00:00,C{i},Lodz,{nip},M365,E3,10,10,Beta,Krakow,"
                 f"7740001454,Ewa,123,e@b.pl,,\n")
        sales += f"S{i},P2,{nip},M365,E3,annual,10,100.00,{day}\n"
    (data / "customers.csv").write_text(customers.replace(
        "1234563218,C1,Lodz,PL,commercial_smb\n", "", 1), encoding="utf-8")
    (data / "registrations.csv").write_text(regs, encoding="utf-8")
    (data / "sales.csv").write_text(sales, encoding="utf-8")
    for plan, rates in ((PLAN, ["2400.00"] * 3), (VARIANT, ["2400.00", "2640.00", "2640.00"])):
        rows = {r["source_id"]: r for r in calculate(plan, data).tables["payouts"].to_pylist()}
        assert [str(rows[f"S{i}"]["amount"]) for i in (1, 2, 3)] == rates, plan.name
        if plan == VARIANT:
            assert [rows[f"S{i}"]["version"] for i in (1, 2, 3)] == ["v1", "v2", "v2"]
            assert rows["S2"]["rate"] == Decimal("0.22")
