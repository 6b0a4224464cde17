"""Model-quality monitoring of the question model on captured traffic and its ground truth."""
