"""The plan language: model, expressions, loading and errors."""

from paymaster.plan.loader import LoadedPlan, load_plan, parse_plan
from paymaster.plan.model import Plan

__all__ = ["LoadedPlan", "Plan", "load_plan", "parse_plan"]
