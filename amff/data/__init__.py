"""Cohorts: the folder format, the simulator, preprocessing and tensors."""
