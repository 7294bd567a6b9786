"""Oscar's partner app, forked only for the pricing strategy (strategy.py)."""
