"""Compression as a chain of small steps: wrap -> fine-tune -> strip -> convert -> measure."""
