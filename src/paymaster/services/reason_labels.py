"""Kept for older imports: the reasons' words live in paymaster.reasons (the explanations,
below the services, read them too)."""

from paymaster.reasons import REASONS, reason_label, reason_text  # noqa: F401
