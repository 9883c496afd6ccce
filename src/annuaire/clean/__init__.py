"""Pure functions that repair and validate the fields of a declaration.

Nothing here reads files or talks to the network: every function takes values and returns values,
so that each one is tested on its own (see tests/test_clean_*.py).
"""
