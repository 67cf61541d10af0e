"""The paper's four simulations and ours, reproducible with one command.

    python -m amff reproduce --profile quick|paper --out assets/results [--workers 2]
                             [--only sim3,sim4] [--dry-run]

Modules: plan (profiles, runs, keys), runner (train and evaluate one run; worker processes),
stats (summaries and paired intervals), analysis (numbers per section), claims (verdicts),
report (REPRODUCTION.md, README_SECTION.md), reproduce (the pipeline). Figures are drawn by
amff.figures; the command is amff.cli.reproduce.
"""
