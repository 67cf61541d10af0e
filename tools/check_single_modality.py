"""Issue 3 check: on cohorts where only one modality carries the label, AMFF-HT finds it.

For each modality: write a hand-built cohort (other features, genes, image size than the
simulator) whose label only that modality sees, train AMFF-HT through the CLI, evaluate
with all modalities, that modality alone and all but it, and report the mean weights.
Usage: python tools/check_single_modality.py OUT_JSON
"""

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from toy import make_toy_cohort  # noqa: E402

from amff.modalities import MODALITIES  # noqa: E402


def run(*args: str) -> str:
    result = subprocess.run([sys.executable, "-m", "amff", *args], capture_output=True, text=True)
    if result.returncode:
        raise SystemExit(result.stderr)
    return result.stdout


def main() -> None:
    report = {}
    with tempfile.TemporaryDirectory() as tmp:
        for m in MODALITIES:
            train_dir, test_dir, ck = (
                Path(tmp) / f"{m.value}-{k}" for k in ("train", "test", "ck")
            )
            make_toy_cohort(n=600, seed=11, signal=(m,), image_size=48, n_genes=40).write(train_dir)
            make_toy_cohort(n=400, seed=12, signal=(m,), image_size=48, n_genes=40).write(test_dir)
            run("train", "--data", str(train_dir), "--out", str(ck), "--epochs", "15", "--quiet")
            others = ",".join(o.value for o in MODALITIES if o is not m)
            row = {}
            for name, subset in (("all", ""), ("alone", m.value), ("without", others)):
                args = ["evaluate", "--checkpoint", str(ck), "--data", str(test_dir)]
                if subset:
                    args += ["--modalities", subset]
                row[f"auroc_{name}"] = json.loads(run(*args))["auroc"]
            preds = Path(tmp) / "p.csv"
            run("predict", "--checkpoint", str(ck), "--data", str(test_dir), "--out", str(preds))
            frame = pd.read_csv(preds)
            full = frame[frame["modalities"] == "tabular+text+image+rna"]
            row["mean_weights_all_present"] = {
                o.value: round(float(full[f"weight_{o.value}"].mean()), 3) for o in MODALITIES
            }
            row["largest_weight"] = max(
                row["mean_weights_all_present"], key=row["mean_weights_all_present"].get
            )
            report[m.value] = row
            print(m.value, row, flush=True)
    Path(sys.argv[1]).write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
