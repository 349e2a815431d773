"""Side-by-side benchmarks of chainrule against PyTorch, a hand-written NumPy reference and JAX.

Run from a checkout: ``python -m benchmarks [--quick] [names…]``. This package is not installed
with chainrule, and chainrule never imports it (nor torch).
"""
