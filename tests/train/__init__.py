"""Tests of kinora.train (the training loops, their data, what they share, their boundary)."""
