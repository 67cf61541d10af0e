"""Test helpers shared by the test files (importable as `support`: tests/conftest.py puts
tests/ on sys.path).

- `support.toy`: small hand-built cohorts (`make_toy_cohort`).
- `support.corpus`: the corpus of bad and odd cohort inputs, and the image builders it uses.

Shared fixtures (trained checkpoints, cohort folders on disk) are in tests/conftest.py.
"""
