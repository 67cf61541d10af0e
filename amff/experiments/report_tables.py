"""The tables of REPRODUCTION.md, one per section, and the number formats they share."""

from __future__ import annotations

from typing import Any

from amff.config import MODEL_KINDS
from amff.experiments.plan import METHOD_LABELS, METHODS


def num(x: Any, digits: int = 3) -> str:
    return "n/a" if x is None else f"{x:.{digits}f}"


def mean_sd(s: dict[str, Any] | None, digits: int = 3) -> str:
    if not s or s.get("mean") is None:
        return "n/a"
    sd = s.get("sd")
    return f"{s['mean']:.{digits}f}" + ("" if sd is None else f" ± {sd:.{digits}f}")


def interval(s: dict[str, Any], digits: int = 3, key: str = "mean") -> str:
    value = s.get(key)
    if value is None:
        return "n/a"
    text = f"{value:+.{digits}f}"
    if s.get("low") is not None and s.get("high") is not None:
        text += f" [{s['low']:+.{digits}f}, {s['high']:+.{digits}f}]"
    return text


def table1(results: dict[str, Any]) -> str:
    sec = results["sim3"]
    paper = sec["paper"]
    lines = [
        "| Method | Paper AUROC | Paper F1 | Paper accuracy | AUROC | F1 | Accuracy | AUPRC | "
        "Brier | ECE | Oracle gap closed | Epochs run |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for method in METHODS:
        row = sec["rows"][method]
        p = paper.get(method, {})
        lines.append(
            f"| {METHOD_LABELS[method]} | {num(p.get('auroc'))} | {num(p.get('f1'))} | "
            f"{num(p.get('accuracy'))} | {mean_sd(row['auroc'])} | {mean_sd(row['f1'])} | "
            f"{mean_sd(row['accuracy'])} | {mean_sd(row['auprc'])} | {mean_sd(row['brier'])} | "
            f"{mean_sd(row['ece'])} | {mean_sd(row['gap_closed'], 2)} | "
            f"{mean_sd(row['epochs_run'], 1)} |"
        )
    for name, label in (
        ("bayes", "Bayes oracle (p_true)"),
        ("noisy_ceiling", "Ceiling given the noisy readings"),
    ):
        o = sec["oracles"][name]
        lines.append(
            f"| {label} | | | | {num(o['auroc'])} | {num(o['f1'])}* | {num(o['accuracy'])}* | "
            f"{num(o['auprc'])} | {num(o['brier'])} | {num(o['ece'])} | "
            f"{'1.00' if name == 'bayes' else ''} | |"
        )
    lines.append("")
    lines.append(
        "Ours: mean ± sd over seeds on the held-out cohort. *Oracle F1 and accuracy at the "
        "F1-best threshold on the test cohort itself (an optimistic reference). Oracle gap "
        "closed = (AUROC - 0.5) / (Bayes AUROC - 0.5)."
    )
    lines.append("")
    lines.append("Paired AUROC differences (each row: the first method minus the second):")
    lines.append("")
    lines.append(
        "| Comparison | Over seeds [95% t interval] | Over test patients [95% bootstrap] |"
    )
    lines.append("|---|---|---|")
    for key, entry in sec["differences"].items():
        a, b = key.split("-vs-")
        boot = entry["auroc_bootstrap"]
        lines.append(
            f"| {METHOD_LABELS[a]} - {METHOD_LABELS[b]} | {interval(entry['auroc'])} | "
            f"{interval(boot, key='difference')} |"
        )
    return "\n".join(lines)


def _sim2_table(results: dict[str, Any]) -> str:
    sec = results["sim2"]
    methods = MODEL_KINDS
    lines = [
        "| Modalities on at test time | AMFF-HT AUROC | Early AUROC | Late AUROC* | "
        "AMFF-HT F1 | Late F1* | Patients |",
        "|---|---|---|---|---|---|---|",
    ]
    for subset, row in sec["methods"]["amff"].items():
        cells = [mean_sd(sec["methods"][m][subset]["auroc"]) for m in methods]
        lines.append(
            f"| {subset} | {' | '.join(cells)} | {mean_sd(row['f1'])} | "
            f"{mean_sd(sec['methods']['late'][subset]['f1'])} | {row['n_patients']} |"
        )
    lines.append("")
    lines.append(
        "*With one modality on, late fusion is exactly the unimodal model trained on that "
        "modality alone (its member), so those rows are the 'trained alone' comparison."
    )
    return "\n".join(lines)


def _sim4_table(results: dict[str, Any]) -> str:
    sec = results["sim4"]
    lines = [
        "| N | AMFF-HT AUROC | Early AUROC | Late AUROC | AMFF-HT - early | AMFF-HT - late |",
        "|---|---|---|---|---|---|",
    ]
    for n in sec["sizes"]:
        row = sec["by_size"][str(n)]
        gains = sec["amff_minus_baseline_auroc"][str(n)]
        lines.append(
            f"| {n:,} | {mean_sd(row['amff']['auroc'])} | {mean_sd(row['early']['auroc'])} | "
            f"{mean_sd(row['late']['auroc'])} | {interval(gains['early'])} | "
            f"{interval(gains['late'])} |"
        )
    return "\n".join(lines)


def _curve_table(curves: dict[str, list[dict[str, Any]]], x: str, label: str) -> str:
    methods = list(curves)
    header = f"| {label} | " + " | ".join(METHOD_LABELS[m] for m in methods) + " |"
    lines = [header, "|" + "---|" * (len(methods) + 1)]
    for i, point in enumerate(curves[methods[0]]):
        cells = [mean_sd(curves[m][i]) for m in methods]
        lines.append(f"| {point[x]:g} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _sim5a_table(results: dict[str, Any]) -> str:
    sec = results["sim5a"]
    parts = []
    for modality in sec["amff_weight_of_corrupted_modality"]:
        curves = {m: sec["auroc"][m][modality] for m in sec["auroc"]}
        parts.append(f"AUROC with the **{modality}** corrupted:\n")
        parts.append(_curve_table(curves, "severity", "Severity"))
        parts.append("")
    return "\n".join(parts)


def _sim5c_table(results: dict[str, Any]) -> str:
    sec = results["sim5c"]
    lines = [
        "| Simulator | Bayes AUROC | AMFF-HT | Early | Late | AMFF-HT - late |",
        "|---|---|---|---|---|---|",
    ]
    for scenario in sec["scenarios"].values():
        rows = scenario["rows"]
        lines.append(
            f"| {scenario['label']} | {num(scenario['bayes_auroc'])} | "
            f"{mean_sd(rows['amff']['auroc'])} | {mean_sd(rows['early']['auroc'])} | "
            f"{mean_sd(rows['late']['auroc'])} | {interval(scenario['amff_minus']['late'])} |"
        )
    return "\n".join(lines)


def _sim5d_table(results: dict[str, Any]) -> str:
    sec = results["sim5d"]
    lines = [
        f"Mean modality weight ({sec['population']}):",
        "",
        "| Model | Modality | Poor quality | Good quality | Poor - good |",
        "|---|---|---|---|---|",
    ]
    for method, table in sec["methods"].items():
        for modality, row in table.items():
            lines.append(
                f"| {METHOD_LABELS[method]} | {modality} | {mean_sd(row['poor'])} | "
                f"{mean_sd(row['good'])} | {interval(row['poor_minus_good'])} |"
            )
    return "\n".join(lines)


def _sim5e_table(results: dict[str, Any]) -> str:
    sec = results["sim5e"]
    lines = [
        "| Scenario | N | AMFF-HT | Early | Late | AMFF-HT - early | AMFF-HT - late |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, scenario in sec["scenarios"].items():
        rows = scenario["rows"]
        lines.append(
            f"| {name} ({scenario['simulator']}) | {scenario['n']:,} | "
            f"{mean_sd(rows['amff']['auroc'])} | {mean_sd(rows['early']['auroc'])} | "
            f"{mean_sd(rows['late']['auroc'])} | {interval(scenario['amff_minus']['early'])} | "
            f"{interval(scenario['amff_minus']['late'])} |"
        )
    return "\n".join(lines)


SECTION_TABLES = {
    "sim2": _sim2_table,
    "sim3": table1,
    "sim4": _sim4_table,
    "sim5a": _sim5a_table,
    "sim5b": lambda r: _curve_table(r["sim5b"]["auroc"], "rate", "Missing rate"),
    "sim5c": _sim5c_table,
    "sim5d": _sim5d_table,
    "sim5e": _sim5e_table,
}
