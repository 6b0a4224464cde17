"""Ground truth for captured traffic: the label queue, its files, and the terminal UI."""
