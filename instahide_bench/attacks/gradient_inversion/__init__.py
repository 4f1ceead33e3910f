"""``gradient-inversion``: recover a federated client's model inputs from its updates, then decode them."""
