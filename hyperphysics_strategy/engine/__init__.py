"""Numerical engine: hardware detection, order-book geometry, risk and Greeks.

Nothing here imports freqtrade; every module is usable on its own.
"""
