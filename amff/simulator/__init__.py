"""The synthetic four-modality cohort of DESIGN.md "The simulator", with its oracles.

Every patient has latent factors; each modality sees noisy readings of some of them and renders
those readings as data a clinician would recognise (ICU vitals and labs, a SOAP note, a chest-like
phantom image, RNA-seq counts). Because the generator knows the latents it also knows the truth:

* ``p_true = Phi(eta)``, the Bayes probability, whose AUROC no model can pass;
* ``p_noisy_ceiling``, the probability given the noisy readings of the present modalities.

Latents (standard normal unless said)::

    s      severity, seen by tabular, text and image
    u_tab  frailty seen by the record; u_txt goals of care seen by the note;
    u_img  lesion burden seen by the image; u_rna a high-risk subtype seen by RNA
           (0 for 85% of patients, N(2, 0.5^2) for 15%)
    a, b   an image pattern and an RNA programme: the outcome uses gamma * a * b (synergy)

    eta = b0 + w_s s + w_tab u_tab + w_txt u_txt + w_img u_img + w_rna u_rna + gamma a b
    y ~ Bernoulli(Phi(eta)), b0 set for the prevalence

A reading is ``factor + noise_m * (kappa if poor else 1) * N(0, 1)``; a poor reading shows in the
data (more blank cells, "limited exam" in the note, a blurred image, a low library size).

Determinism: every random draw comes from a NumPy Generator seeded from ``SeedSequence(seed)``
with a fixed spawn key per purpose, so the same SimConfig gives byte-identical cohort folders.

The modules, in the order data flows: config (the knobs, the random streams), latents (factors,
outcome, quality, readings, presence), render_tabular / render_text / render_image / render_rna
(readings -> data), generator (``simulate``), oracles (the ceilings), perturb (test-time
corruption and missingness).
"""

from __future__ import annotations

from amff.simulator.config import SimConfig
from amff.simulator.generator import simulate
from amff.simulator.oracles import noisy_ceiling, oracle_report
from amff.simulator.perturb import corrupt, drop_modalities

__all__ = [
    "SimConfig",
    "corrupt",
    "drop_modalities",
    "noisy_ceiling",
    "oracle_report",
    "simulate",
]
