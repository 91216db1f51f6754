"""Question decomposition: split a question (rules or a model), answer the parts, merge."""
