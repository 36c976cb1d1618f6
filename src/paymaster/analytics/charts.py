"""Charts as real images (matplotlib, SVG or PNG) for statements, the portal and reports.

Each chart draws figures computed elsewhere (budget forecast, comparison, effect); the
tests check those figures, not pixels. Amounts are plotted as floats: a chart is a
picture of exact numbers, never a source of them.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from decimal import Decimal

from paymaster.errors import UsageError

FORMATS = ("svg", "png")


def _figure(width: float = 8, height: float = 4.2):
    import matplotlib

    matplotlib.use("Agg")  # no screen: draw to files
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(width, height), dpi=100)
    ax.grid(True, alpha=0.3)
    return plt, fig, ax


def _save(plt, fig, fmt: str) -> bytes:
    if fmt not in FORMATS:
        raise UsageError(f"unknown chart format '{fmt}'; use svg or png")
    buffer = io.BytesIO()
    fig.tight_layout()
    # A fixed date in the metadata keeps the same figures giving the same file.
    metadata = {"Date": None} if fmt == "svg" else {}
    fig.savefig(buffer, format=fmt, metadata=metadata)
    plt.close(fig)
    return buffer.getvalue()


def burn_chart(forecast, fmt: str = "svg") -> bytes:
    """Cumulative spend of a budget pool by week, its limit, and the projected burn to
    exhaustion with the interval of the run rate."""
    plt, fig, ax = _figure()
    weeks = [w for w, _ in forecast.weekly]
    total = Decimal(0)
    cumulative = []
    for _, amount in forecast.weekly:
        total += amount
        cumulative.append(float(total))
    if weeks:
        ax.step(weeks, cumulative, where="post", label="charged to the pool", color="#1f6feb")
    limit = float(forecast.limit)
    ax.axhline(limit, color="#cf222e", linestyle="--", label=f"limit {forecast.limit:,}")
    start = float(forecast.spent + forecast.committed)
    if forecast.exhaustion and forecast.exhaustion > forecast.as_of and forecast.rate_per_week:
        ax.plot([forecast.as_of, forecast.exhaustion], [start, limit], color="#9a6700",
                linestyle=":", label=f"projected: out on {forecast.exhaustion}")
        if forecast.exhaustion_low:
            # The latest date is not in sight or past the program's end: shade up to the end.
            end = forecast.exhaustion_high or forecast.ends_on or forecast.exhaustion
            ax.fill_between([forecast.as_of, forecast.exhaustion_low, end],
                            [start, limit, limit], [start, start, limit], color="#9a6700",
                            alpha=0.12, label="interval")
    elif forecast.used_at_end is not None and forecast.ends_on:
        ax.plot([forecast.as_of, forecast.ends_on], [start, float(forecast.used_at_end)],
                color="#9a6700", linestyle=":",
                label=f"projected to the program's end {forecast.ends_on}")
    elif forecast.exhausted_on:
        ax.axvline(forecast.exhausted_on, color="#cf222e", alpha=0.5,
                   label=f"ran out on {forecast.exhausted_on}")
    ax.set_title(f"{forecast.program}: budget '{forecast.pool}' ({forecast.currency})")
    ax.set_ylabel(forecast.currency)
    ax.legend(loc="upper left", fontsize="small")
    fig.autofmt_xdate()
    return _save(plt, fig, fmt)


def bar_chart(labels: Sequence[str], values: Sequence[Decimal], title: str, unit: str = "",
              fmt: str = "svg") -> bytes:
    """One bar per label (a variant's cost, a payee's difference, an attainment bucket)."""
    plt, fig, ax = _figure()
    numbers = [float(v) for v in values]
    colors = ["#cf222e" if v < 0 else "#1f6feb" for v in numbers]
    ax.bar(list(labels), numbers, color=colors)
    ax.set_title(title)
    if unit:
        ax.set_ylabel(unit)
    for label in ax.get_xticklabels():
        label.set_rotation(30)
        label.set_horizontalalignment("right")
    return _save(plt, fig, fmt)


def write_chart(data: bytes, path) -> None:
    from pathlib import Path

    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_bytes(data)


def chart_format(path) -> str:
    from pathlib import Path

    fmt = Path(path).suffix.lower().lstrip(".")
    if fmt not in FORMATS:
        raise UsageError(f"{path}: a chart is .svg or .png, not '{Path(path).suffix}'")
    return fmt


__all__ = ["FORMATS", "bar_chart", "burn_chart", "chart_format", "write_chart"]
