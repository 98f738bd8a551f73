"""Qubic AI Compute Layer: the library every entry point imports.

Start with `qcl up` (the embedded stack) or `qcl analyze --input FILE --json`.
"""

__version__ = "0.1.0"
