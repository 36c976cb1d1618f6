"""The calculation engine: plan + input tables -> result tables, as a relational pipeline."""

from paymaster.engine.build import Outputs, build, check, input_schemas

__all__ = ["Outputs", "build", "check", "input_schemas"]
