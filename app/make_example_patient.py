"""Write assets/example_patient/: the upload formats, shown by one simulated patient.

    .venv/bin/python -m app.make_example_patient

The patient comes from its own simulator seed (not the training, test or demo cohorts) and
has all four sources: record.csv (one row), note.txt, image.png and rnaseq.csv (one row).
"""

from __future__ import annotations

from pathlib import Path

import amff

OUT = Path(__file__).resolve().parent.parent / "assets" / "example_patient"
SEED = 424_242
PATIENT_ID = "EXAMPLE-001"


def main() -> None:
    cohort = amff.simulate(amff.SimConfig(n=40, seed=SEED))
    full = cohort.present_matrix().all(axis=1)
    source = cohort.ids[int(full.argmax())]
    patient = cohort.patient(source)
    OUT.mkdir(parents=True, exist_ok=True)
    record = patient.record.to_frame().T
    record.insert(0, "patient_id", PATIENT_ID)
    record.to_csv(OUT / "record.csv", index=False)
    (OUT / "note.txt").write_text(patient.note or "", encoding="utf-8")
    (OUT / "image.png").write_bytes(amff.encode_png(patient.image))
    counts = patient.rna.astype("int64").to_frame().T
    counts.insert(0, "patient_id", PATIENT_ID)
    counts.to_csv(OUT / "rnaseq.csv", index=False)
    print(f"wrote {OUT} from simulated patient {source} (seed {SEED})")


if __name__ == "__main__":
    main()
