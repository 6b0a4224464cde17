"""Question understanding: question generation, the character tokenizer and the JointBERT model."""
