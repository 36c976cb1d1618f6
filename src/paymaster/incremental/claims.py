"""Claims read back from stored lines: a per-record measure's records with the claim
columns the engine's claim step gives (`engine/blocks/records.py:_claim`), rebuilt from
the trace their lines keep (`claim`, `claim_status`, and for a claim that explains why a
record is unclaimed `claim_reason`, `claim_note`, `claim_sale`).

Used when a change cannot have moved any claim (a corrected amount: no record of a claim
group came, went or moved, no claimant changed): the part recomputed is then its own
payee-periods, without the claim groups around them, and no claim is numbered again.
The trace holds each column the claim step gives wherever a later step reads it: the
claimant for a claimed record; for an unclaimed one the registration it was left by, its
verdict (used, pending or rejected), reason, note and the sale that used it.
"""

from __future__ import annotations

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir

from paymaster.plan.trace import CLAIM_CLOSED, CLAIM_PENDING, CLAIM_USED


def explains(claim) -> bool:
    """Does the claim say why a record is unclaimed (as `records._explains`)?"""
    return any((claim.rejected_reason, claim.pending_reason, claim.used_reason))


def with_stored_claims(table: ir.Table, lines: ir.Table, claim,
                       claimant: dt.DataType) -> ir.Table:
    """`table`'s records (a measure's, by `source_id`, the source's key) with the claim
    columns rebuilt from their stored `lines`."""
    stored = lines.select(__k_id=lines["source_id"], __k_claim=lines["claim"],
                          __k_status=lines["claim_status"],
                          **({"__k_reason": lines["claim_reason"], "__k_note": lines["claim_note"],
                              "__k_sale": lines["claim_sale"]} if explains(claim) else {}))
    joined = table.left_join(stored, table["source_id"] == stored["__k_id"])
    status = joined["__k_status"]
    closed = status == ibis.literal(CLAIM_CLOSED)
    text = ibis.null().cast("string")
    columns = {"__claimed_by": ibis.ifelse(closed, joined["__k_claim"], text).cast(claimant)}
    if explains(claim):
        via = status.notnull() & ~closed
        columns.update(
            __via=ibis.ifelse(via, joined["__k_claim"], text),
            __via_ok=ibis.ifelse(via, status == ibis.literal(CLAIM_USED), ibis.null("boolean")),
            __via_pending=ibis.ifelse(via, status == ibis.literal(CLAIM_PENDING),
                                      ibis.null("boolean")),
            __via_reason=ibis.ifelse(via, joined["__k_reason"], text),
            __via_note=ibis.ifelse(via, joined["__k_note"], text),
            __via_sale=ibis.ifelse(via, joined["__k_sale"], text))
    return joined.mutate(**columns).select(*table.columns, *columns)
