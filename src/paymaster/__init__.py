"""Paymaster: sales incentive programs as plan files, calculated exactly and explained."""

__version__ = "0.1.0"
