"""Cohorts in memory (Patient, Cohort), the cohort folder (one reader and writer), CSV
helpers, image decoding, the fitted preprocessors and tensors."""
