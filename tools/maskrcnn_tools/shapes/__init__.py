"""The shipped "shapes" model: its synthetic data, training, evaluation and
sample clip."""
