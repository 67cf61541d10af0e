"""The paper's four simulations and ours, reproducible with one command.

    python -m amff reproduce --profile quick|paper --out assets/results [--workers 2]
                             [--only sim3,sim4] [--dry-run]

Modules: plan (profiles, runs, keys), runner (train and evaluate one run; worker processes),
stats (summaries and paired intervals), analysis/ (numbers per section), paper (the paper's
own numbers), claims (the claims as a table) and verdicts (their rules), report and
report_tables (REPRODUCTION.md, README_SECTION.md), figures/ (specs; PNG and HTML renderers),
reproduce (the pipeline). The command is amff.cli.reproduce.
"""
