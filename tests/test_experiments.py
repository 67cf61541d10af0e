"""`python -m amff reproduce`: the verdict rules, the statistics, the plan, and the quick profile
end to end (train, resume, results.json, figures, REPRODUCTION.md)."""

import json
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from sklearn.metrics import roc_auc_score

from amff.cli import main
from amff.errors import InputError
from amff.experiments import claims, figures, report, stats
from amff.experiments.claims import FAILS, HOLDS, NOT_RUN, PARTLY
from amff.experiments.plan import (
    METHODS,
    PROFILES,
    SECTIONS,
    build_plan,
    code_version,
    make_run,
    parse_sections,
)
from amff.experiments.runner import is_done


# -- verdict rules ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("mean", "low", "high", "expected"),
    [
        (0.02, 0.01, 0.03, HOLDS),
        (0.02, -0.01, 0.05, PARTLY),
        (0.0, -0.01, 0.01, FAILS),
        (-0.02, -0.03, -0.01, FAILS),
        (0.02, math.nan, math.nan, PARTLY),  # one seed: no interval, never "holds"
        (math.nan, math.nan, math.nan, NOT_RUN),
    ],
)
def test_greater(mean, low, high, expected):
    assert claims.greater(mean, low, high) == expected


def test_less_mirrors_greater():
    assert claims.less(-0.02, -0.03, -0.01) == HOLDS
    assert claims.less(-0.02, -0.05, 0.01) == PARTLY
    assert claims.less(0.02, 0.01, 0.03) == FAILS


def test_equivalent_and_below():
    assert claims.equivalent(0.001, -0.005, 0.007, margin=0.01) == HOLDS
    assert claims.equivalent(0.01, -0.02, 0.04, margin=0.01) == PARTLY
    assert claims.equivalent(0.03, 0.02, 0.04, margin=0.01) == FAILS
    assert claims.below(0.01, 0.015, bound=0.02) == HOLDS
    assert claims.below(0.01, 0.03, bound=0.02) == PARTLY
    assert claims.below(0.03, 0.04, bound=0.02) == FAILS


def test_all_of():
    assert claims.all_of([HOLDS, HOLDS]) == HOLDS
    assert claims.all_of([HOLDS, FAILS]) == PARTLY
    assert claims.all_of([PARTLY, FAILS]) == PARTLY
    assert claims.all_of([FAILS, FAILS]) == FAILS
    assert claims.all_of([HOLDS, NOT_RUN]) == NOT_RUN


def _sim3_section(amff, others):
    """A Simulation 3 section from per-seed AUROCs (the same numbers for F1 and accuracy)."""
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 400)
    differences = {}
    per_method = {"amff": amff, **others}
    pairs = [("amff", m) for m in METHODS if m != "amff"] + [("early", "late")]
    for a, b in pairs:
        diff = stats.paired(per_method[a], per_method[b])
        differences[f"{a}-vs-{b}"] = {
            "auroc": diff,
            "f1": diff,
            "accuracy": diff,
            "auroc_bootstrap": {"difference": diff["mean"], "low": -1.0, "high": 1.0},
        }
    return {"differences": differences, "n": len(y)}


def _verdicts(results):
    return {c["id"]: c["verdict"] for c in claims.all_claims(results)}


def test_table1_claims_follow_the_numbers():
    seeds = 5
    others = {m: [0.70 + 0.001 * i for i in range(seeds)] for m in METHODS if m != "amff"}
    better = {"sim3": _sim3_section([0.75 + 0.002 * i for i in range(seeds)], others)}
    verdicts = _verdicts(better)
    assert verdicts["C3a"] == verdicts["C3b"] == verdicts["C3c"] == verdicts["C3f"] == HOLDS
    worse = {"sim3": _sim3_section([0.65 + 0.002 * i for i in range(seeds)], others)}
    verdicts = _verdicts(worse)
    assert verdicts["C3a"] == verdicts["C3b"] == verdicts["C3f"] == FAILS
    noisy = {"sim3": _sim3_section([0.75, 0.65, 0.74, 0.66, 0.72], others)}
    assert _verdicts(noisy)["C3a"] == PARTLY  # higher on average, interval covers 0
    # sections that were not run give "not run", never a verdict
    assert _verdicts(better)["C4a"] == NOT_RUN


def test_every_claim_is_listed_once():
    ids = [c["id"] for c in claims.all_claims({})]
    assert len(ids) == len(set(ids)) == len(claims.CLAIM_IDS)
    assert all(c["verdict"] == NOT_RUN for c in claims.all_claims({}))


COMMITTED = Path(__file__).resolve().parents[1] / "assets" / "results"


def test_the_committed_reproduction_is_what_the_code_renders():
    """The claims table and the report turn the committed results.json into exactly the claims
    stored in it, REPRODUCTION.md and README_SECTION.md (a refactor must not change them)."""
    results = json.loads((COMMITTED / "results.json").read_text(encoding="utf-8"))
    assert claims.all_claims(results) == results["claims"]
    assert [c["id"] for c in results["claims"]] == list(claims.CLAIM_IDS)
    expected = (COMMITTED / "REPRODUCTION.md").read_text(encoding="utf-8")
    assert report.reproduction_md(results) == expected
    expected = (COMMITTED / "README_SECTION.md").read_text(encoding="utf-8")
    assert report.readme_section(results) == expected
    specs = figures.build_all(results)
    assert [s.name for s in specs] == list(figures.BUILDERS) == list(results["figures"]["png"])


# -- statistics ------------------------------------------------------------------------------
def test_summary_known_answer():
    s = stats.summary([1.0, 2.0, 3.0])
    assert s["mean"] == 2.0 and s["sd"] == 1.0 and s["n"] == 3
    assert s["high"] - 2.0 == pytest.approx(4.302653 / math.sqrt(3), rel=1e-5)
    assert math.isnan(stats.summary([1.0])["low"])


def test_weighted_auroc_matches_sklearn_with_ties_and_counts():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 300)
    p = np.round(rng.random(300) + 0.3 * y, 1)  # many ties
    ones = np.ones((1, 300))
    assert stats.weighted_auroc(y, p, ones)[0] == pytest.approx(roc_auc_score(y, p))
    counts = stats.resample_counts(300, 3, seed=0)
    for row in counts:
        idx = np.repeat(np.arange(300), row)
        expected = roc_auc_score(y[idx], p[idx])
        assert stats.weighted_auroc(y, p, row[None, :])[0] == pytest.approx(expected)


def test_paired_bootstrap_sees_a_real_difference_and_not_a_null_one():
    rng = np.random.default_rng(2)
    y = rng.integers(0, 2, 2000)
    signal = y + rng.normal(0, 1, 2000)
    good = [signal + rng.normal(0, 0.3, 2000) for _ in range(3)]
    bad = [signal + rng.normal(0, 2.0, 2000) for _ in range(3)]
    real = stats.bootstrap_auroc_difference(y, good, bad, n_boot=300)
    assert real["low"] > 0.05
    null = stats.bootstrap_auroc_difference(y, good, good, n_boot=300)
    assert null["difference"] == 0.0 and null["low"] <= 0.0 <= null["high"]


def test_variance_ratio_interval_contains_the_truth():
    rng = np.random.default_rng(3)
    a, b = rng.normal(0, 1, 200), rng.normal(0, 2, 200)
    r = stats.variance_ratio(a, b)
    assert r["low"] < 0.25 < r["high"] and r["high"] < 1


# -- the plan --------------------------------------------------------------------------------
def test_paper_profile_follows_the_protocol():
    profile = PROFILES["paper"]
    assert len(profile.seeds) >= 5
    assert (profile.n_test, profile.test_seed) == (4000, 10_000)
    assert {500, 1200, 2000} <= set(profile.sizes) and profile.n_main == 2000
    specs = build_plan(profile)
    budgets = {(s.train["epochs"], s.train["patience"]) for s in specs}
    assert budgets == {(profile.epochs, profile.patience)}, "every method gets the same budget"
    # runs are shared: 6 methods at the main N, 3 at each other size, no-synergy and noisy
    other_sizes = len(profile.sizes) - 1
    assert len(specs) == len(profile.seeds) * (6 + 3 * other_sizes + 3 + 3)
    # the simulator's knobs stay at their defaults outside the named scenarios
    defaults = make_run(profile, "amff", "default", 2000, 0).train_sim
    for spec in specs:
        changed = {k for k, v in spec.train_sim.items() if defaults[k] != v} - {"n", "seed"}
        assert changed == {"default": set(), "no-synergy": {"gamma"},
                           "noisy": {"poor_quality_rate"}}[spec.scenario]  # fmt: skip


def test_run_keys_change_with_settings_but_not_with_sections():
    profile = PROFILES["paper"]
    version = code_version()
    a = make_run(profile, "amff", "default", 2000, 0)
    assert a.key(version) == make_run(profile, "amff", "default", 2000, 0).key(version)
    only3 = {s.key(version) for s in build_plan(profile, ("sim3",))}
    every = {s.key(version) for s in build_plan(profile)}
    assert only3 < every  # a section reuses the keys of the full plan
    assert make_run(profile, "amff", "default", 2000, 1).key(version) != a.key(version)
    assert make_run(profile, "amff-no-masking", "default", 2000, 0).key(version) != a.key(version)
    assert a.key("other-code") != a.key(version)


def test_parse_sections():
    assert parse_sections(None) == SECTIONS
    assert parse_sections("sim4, sim3") == ("sim3", "sim4")
    assert parse_sections("sim5") == ("sim5a", "sim5b", "sim5c", "sim5d", "sim5e")
    with pytest.raises(InputError, match="unknown section 'sim9'"):
        parse_sections("sim3,sim9")


def test_bad_only_is_one_line_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["reproduce", "--profile", "quick", "--out", str(out), "--only", "fig2"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --only: unknown section 'fig2'") and err.count("\n") == 1
    assert not out.exists()


# -- the quick profile, end to end -----------------------------------------------------------
@pytest.fixture(scope="module")
def fixed_code_version():
    """Run keys hash the package's source; other work may edit it while these tests run."""
    from amff.experiments import plan, reproduce

    with pytest.MonkeyPatch.context() as patch:
        for module in (plan, reproduce):
            patch.setattr(module, "code_version", lambda: "fixed-for-tests")
        yield "fixed-for-tests"


@pytest.fixture(scope="module")
def quick_results(tmp_path_factory, fixed_code_version):
    out = tmp_path_factory.mktemp("reproduce") / "results"
    code = main(["reproduce", "--profile", "quick", "--out", str(out), "--workers", "2", "--quiet"])
    assert code == 0
    return out, json.loads((out / "results.json").read_text())


def test_quick_profile_writes_every_section(quick_results):
    out, results = quick_results
    for section in SECTIONS:
        assert section in results, section
    meta = results["meta"]
    assert meta["command"].startswith("python -m amff reproduce --profile quick")
    assert {"commit", "dirty"} <= set(meta["git"]) and meta["wall_s"] > 0
    assert (
        meta["runs_trained_now"] == results["runs"]["count"] == len(build_plan(PROFILES["quick"]))
    )
    table = results["sim3"]
    assert set(table["rows"]) == set(METHODS)
    assert table["paper"]["amff"] == {"auroc": 0.721, "f1": 0.675, "accuracy": 0.680}
    bayes = table["oracles"]["bayes"]["auroc"]
    for row in table["rows"].values():
        assert 0.0 < row["auroc"]["mean"] < bayes  # no model beats the Bayes oracle
        assert row["gap_closed"]["mean"] < 1.0
    assert len(results["sim2"]["methods"]["amff"]) == 15
    assert {c["id"] for c in results["claims"]} == set(claims.CLAIM_IDS)
    assert all(c["verdict"] in claims.VERDICTS[:3] for c in results["claims"])


def test_quick_profile_figures_and_reports(quick_results):
    out, results = quick_results
    pngs = results["figures"]["png"]
    assert len(pngs) == 10
    for name in pngs.values():
        with Image.open(out / name) as image:
            image.verify()
        with Image.open(out / name) as image:
            assert image.format == "PNG" and 800 <= image.width <= 1200
    html = (out / results["figures"]["html"]).read_text()
    assert 'src="https://cdn.plot.ly' not in html and html.count("Plotly.newPlot") == len(pngs)
    report = (out / "REPRODUCTION.md").read_text()
    for claim in results["claims"]:
        assert f"#### {claim['id']}:" in report and claim["paper"] in report
    for name in pngs.values():
        assert f"]({name})" in report
    readme = (out / "README_SECTION.md").read_text()
    assert readme.startswith("## Reproducing the paper") and "make reproduce" in readme


def test_quick_profile_resumes_without_training(quick_results, fixed_code_version, capsys):
    out, _ = quick_results
    # an interrupted run leaves only a hidden staging folder, which does not count as done
    (out / "runs" / ".amff-default-n300-s0-partial").mkdir()
    code = main(["reproduce", "--profile", "quick", "--out", str(out), "--only", "sim3",
                 "--workers", "1", "--quiet", "--no-figures"])  # fmt: skip
    assert code == 0
    results = json.loads((out / "results.json").read_text())
    assert results["meta"]["runs_trained_now"] == 0
    assert "sim3" in results and "sim4" not in results
    capsys.readouterr()
    assert main(["reproduce", "--profile", "quick", "--out", str(out), "--dry-run"]) == 0
    listing = capsys.readouterr().out
    stored = [line for line in listing.splitlines() if line.split()[1:2] == ["stored"]]
    assert "0 to train" in listing and len(stored) == len(build_plan(PROFILES["quick"]))
    spec = build_plan(PROFILES["quick"])[0]
    assert is_done(out, spec, fixed_code_version)
