"""Oscar's offer app, forked only so that every discount is payable (benefits.py)."""
