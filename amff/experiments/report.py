"""REPRODUCTION.md and README_SECTION.md, written from results.json only (no typed numbers)."""

from __future__ import annotations

from typing import Any

from amff.experiments.plan import METHOD_LABELS, SECTION_TITLES
from amff.experiments.report_tables import SECTION_TABLES, interval, mean_sd, num, table1
from amff.experiments.verdicts import FAILS, HOLDS, NOT_RUN, PARTLY

VERDICT_MARK = {HOLDS: "holds", PARTLY: "partly", FAILS: "does not hold", NOT_RUN: "not run"}
SECTION_FIGURES = {
    "sim1": ["fig2_training_dynamics"],
    "sim2": ["fig3_per_modality", "fig3b_subsets"],
    "sim3": ["table1_fusion_benchmark"],
    "sim4": ["fig4_data_size"],
    "sim5a": ["fig5a_corruption"],
    "sim5b": ["fig5b_missing"],
    "sim5c": ["fig5c_synergy"],
    "sim5d": ["fig5d_weights"],
    "sim5e": ["fig5e_limited_noisy"],
}


def _provenance(results: dict[str, Any]) -> str:
    meta = results["meta"]
    profile = meta["profile"]
    git = meta["git"]
    tree = {True: "working tree with uncommitted changes", False: "clean working tree"}.get(
        git["dirty"], "no git checkout"
    )
    seeds = profile["seeds"]
    return (
        f"Profile **{profile['name']}**: {len(seeds)} paired seeds ({', '.join(map(str, seeds))}; "
        "seed k is the k-th training cohort and the k-th initialisation seed for every method), "
        f"training cohorts of N = {', '.join(f'{n:,}' for n in profile['sizes'])} "
        f"(main N = {profile['n_main']:,}), a fixed held-out cohort of {profile['n_test']:,} "
        f"patients (simulator seed {profile['test_seed']}), validation = 20% of each training "
        f"cohort. Every method gets the same budget: at most {profile['epochs']} epochs, early "
        f"stopping after {profile['patience']} epochs without a better validation AUROC. "
        f"Commit `{(git['commit'] or 'unknown')[:12]}` ({tree}), code version "
        f"`{meta['code_version']}`, {results['runs']['count']} runs, wall time "
        f"{meta['wall_s'] / 60:.1f} min with {meta['workers']} worker(s) "
        f"({meta['runs_trained_now']} runs trained by this command, "
        f"{meta['runs_stored_before']} found stored)."
    )


RULES = """\
Verdicts are computed by `amff/experiments/claims.py` from the numbers in results.json:

- **"A is larger than B"** holds if the 95% interval of the mean paired difference A - B is
  above 0; it is **partly** true if the mean is above 0 but the interval covers 0; it **does not
  hold** if the mean is 0 or below ("smaller" mirrors this).
- **"A is about equal to B"** holds if the interval lies inside a stated margin, is partly
  true if it covers 0 but reaches past the margin, and does not hold if it excludes 0.
- **"A is below a bound"** holds if the interval's upper end is below the bound, is partly
  true if the mean is.
- A claim with parts ("beats early **and** late fusion") holds if every part holds, does not
  hold if no part is even partly true, and is partly true otherwise.

Unless a claim says otherwise, intervals are **paired over seeds**: seed k of every method
sees the same training cohort and the same initialisation seed; the interval is a t interval
(df = seeds - 1) for the mean of the per-seed differences, so it carries the variation from
data draws and training. For the Table 1 AUROC comparisons a **paired bootstrap over test
patients** is shown too (the same resampled patients for both methods and every seed), which
carries only the variation from the finite test cohort."""

CAVEATS = """\
- The simulator is this project's own (DESIGN.md, "The simulator"), with every knob at its
  default, fixed before any model was run. The paper's simulator is not published, so
  absolute numbers cannot be compared with the paper's; the comparisons that matter are
  between methods on the same data, and against the Bayes oracle.
- The scenario knobs of 5c (gamma = 0) and 5e (poor_quality_rate = 0.5) were chosen before
  any run, each changes one documented knob, and the defaults are unchanged.
- F1 and accuracy are at the decision threshold chosen on each run's validation split (per
  modality subset for Simulation 2)."""


def _claims_table(claims: list[dict[str, Any]]) -> str:
    lines = [
        "| Claim | Source | The paper says | Verdict | Evidence [95% interval] |",
        "|---|---|---|---|---|",
    ]
    for c in claims:
        evidence = c["evidence"].replace("|", "/")
        lines.append(
            f"| {c['id']} | {c['source']} | {c['paper']} | **{VERDICT_MARK[c['verdict']]}** | "
            f"{evidence} |"
        )
    return "\n".join(lines)


def _claim_block(c: dict[str, Any]) -> str:
    return "\n".join(
        [
            f"#### {c['id']}: {c['paper']}",
            f"*Source: {c['source']}.*",
            "",
            f"- **Test.** {c['test']}",
            f"- **Rule.** {c['rule'][0].upper() + c['rule'][1:]}.",
            f"- **Result.** {c['evidence'] or 'not run'}",
            f"- **Verdict: {VERDICT_MARK[c['verdict']]}.**",
            "",
        ]
    )


def _figures(results: dict[str, Any], section: str) -> list[str]:
    figures = results.get("figures", {}).get("png", {})
    return [f"![{name}]({figures[name]})" for name in SECTION_FIGURES[section] if name in figures]


def reproduction_md(results: dict[str, Any]) -> str:
    """The claims one by one, with verdicts, evidence, intervals, tables and figures."""
    claims = results["claims"]
    counts = {v: sum(c["verdict"] == v for c in claims) for v in VERDICT_MARK}
    out = [
        "# Reproducing the AMFF-HT paper's simulations",
        "",
        f"*Generated by `{results['meta']['command']}` from results.json; every number comes "
        "from code. Do not edit by hand: rerun the command.*",
        "",
        _provenance(results),
        "",
        "Verdicts: " + ", ".join(f"{n} {VERDICT_MARK[v]}" for v, n in counts.items() if n) + ".",
        "",
        "## How the verdicts are decided",
        "",
        RULES,
        "",
        "## Caveats",
        "",
        CAVEATS,
        "",
        "## The paper's claims",
        "",
        _claims_table([c for c in claims if c["id"].startswith("C")]),
        "",
        "## Our checks beyond the paper",
        "",
        _claims_table([c for c in claims if c["id"].startswith("E")]),
        "",
    ]
    out += _test_sets(results.get("test_sets", {}))
    for section in SECTION_TITLES:
        if section in results:
            out += _section(results, section)
    html = results.get("figures", {}).get("html")
    if html:
        out += ["## Interactive figures", "", f"All figures, interactive: [{html}]({html}).", ""]
    out += ["## Provenance", "", "```", json_block(results["meta"]), "```", ""]
    return "\n".join(out)


def _test_sets(test_sets: dict[str, Any]) -> list[str]:
    """The held-out cohorts, as lines of REPRODUCTION.md (none if there are none)."""
    if not test_sets:
        return []
    out = [
        "## Held-out cohorts",
        "",
        "| Cohort | N | Prevalence | Bayes AUROC | "
        "Ceiling given the readings | All four modalities |",
        "|---|---|---|---|---|---|",
    ]
    for key, t in test_sets.items():
        out.append(
            f"| {t['label']} (`{key}`) | {t['n']:,} | {num(t['prevalence'])} | "
            f"{num(t['bayes_auroc'])} | {num(t['noisy_ceiling_auroc'])} | "
            f"{num(t['share_with_all_four'], 2)} |"
        )
    return [*out, ""]


def _section(results: dict[str, Any], section: str) -> list[str]:
    """One section of REPRODUCTION.md: its figures, its table and its claims."""
    out = [f"## {SECTION_TITLES[section]}", ""]
    out += _figures(results, section) + [""]
    if section in SECTION_TABLES:
        out += [SECTION_TABLES[section](results), ""]
    return out + [_claim_block(c) for c in results["claims"] if c["section"] == section]


def json_block(meta: dict[str, Any]) -> str:
    import json

    keep = {
        k: meta[k]
        for k in (
            "command",
            "git",
            "code_version",
            "environment",
            "workers",
            "started_at",
            "finished_at",
            "wall_s",
        )
        if k in meta
    }
    return json.dumps(keep, indent=1)


def readme_section(results: dict[str, Any]) -> str:
    """A section for the project README: the command, what it does, the headline numbers.

    Links are relative to the repository root, through the --out folder of the run.
    """
    claims = results["claims"]
    folder = results["meta"].get("out", "assets/results").rstrip("/")
    html = results.get("figures", {}).get("html", "results.html")
    lines = [
        "## Reproducing the paper",
        "",
        "```",
        "make reproduce        # python -m amff reproduce --profile paper --out assets/results",
        "python -m amff reproduce --profile paper --dry-run   # the runs and their time",
        "python -m amff reproduce --profile quick --out runs/quick   # a few minutes",
        "```",
        "",
        "One command reruns the paper's four simulations on the project's simulator, whose "
        "truth is known: training dynamics (Fig 2), each modality alone (Fig 3), the fusion "
        "benchmark with three ablations and the Bayes oracle (Table 1), and data size (Fig 4); "
        "then five checks of our own: test-time corruption of each modality, missing "
        "modalities, a simulator without synergy, whether the adaptive weights adapt, and "
        "limited-and-noisy data. Every method gets the same budget and the same paired seeds. "
        f"Runs are stored under `{folder}/runs/` by a hash of their settings and code, so an "
        "interrupted reproduction continues where it stopped and a changed setting reruns only "
        "what it touches; `--only sim3,sim4` picks sections, `--workers` sets the training "
        "processes and `--dry-run` lists the runs with an estimate of their time.",
        "",
        f"Outputs in `{folder}/`: `results.json` (every number, with the command, commit and "
        "wall time), `REPRODUCTION.md` (each claim of the paper with its verdict, evidence and "
        f"interval), PNG figures and `{html}` (all figures, interactive, works offline).",
        "",
        _provenance(results),
        "",
    ]
    if "sim3" in results:
        lines += _readme_table1(results, folder)
    lines += ["| Claim | Verdict |", "|---|---|"]
    for c in claims:
        lines.append(f"| {c['id']}: {c['paper']} | {VERDICT_MARK[c['verdict']]} |")
    lines += [
        "",
        f"Rules, intervals and every figure: [{folder}/REPRODUCTION.md]({folder}/REPRODUCTION.md).",
        "",
    ]
    return "\n".join(lines)


def _readme_table1(results: dict[str, Any], folder: str) -> list[str]:
    """The headline: ours beside the paper's Table 1, and its figure."""
    sec = results["sim3"]
    lines = [
        "| Model | Paper AUROC / F1 / accuracy | Ours AUROC | F1 | Accuracy |",
        "|---|---|---|---|---|",
    ]
    for method in ("early", "late", "amff"):
        row, p = sec["rows"][method], sec["paper"][method]
        lines.append(
            f"| {METHOD_LABELS[method]} | {p['auroc']:.3f} / {p['f1']:.3f} / "
            f"{p['accuracy']:.3f} | {mean_sd(row['auroc'])} | {mean_sd(row['f1'])} | "
            f"{mean_sd(row['accuracy'])} |"
        )
    bayes = sec["oracles"]["bayes"]["auroc"]
    lines += [
        "",
        f"Ours: mean ± sd over {len(results['meta']['profile']['seeds'])} seeds on the "
        f"held-out cohort; the Bayes oracle's AUROC there is {num(bayes)}. The paper's "
        "simulator is not published, so levels are not comparable; differences between "
        "methods are.",
        "",
    ]
    png = results.get("figures", {}).get("png", {}).get("table1_fusion_benchmark")
    if png:
        lines += [f"![Fusion benchmark]({folder}/{png})", ""]
    return lines


__all__ = ["interval", "mean_sd", "num", "readme_section", "reproduction_md", "table1"]
