"""``stk``, the operator command line (cyclopts)."""
