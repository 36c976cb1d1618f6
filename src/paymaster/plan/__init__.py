"""The plan language: model, expressions, loading and errors."""

from paymaster.plan.loaded import LoadedPlan
from paymaster.plan.model import Plan

__all__ = ["LoadedPlan", "Plan", "load_plan", "parse_plan"]


def __getattr__(name: str):
    # The loader (ruamel, the plan's checks) is imported when a plan is read from its
    # file: a run whose plan comes from the run cache (paymaster.runcache) never does.
    if name in ("load_plan", "parse_plan"):
        from paymaster.plan import loader

        return getattr(loader, name)
    raise AttributeError(f"module 'paymaster.plan' has no attribute '{name}'")
