"""Cost of review sampling on the serving path, per prediction.

Figures (microseconds per prediction, best of 5 repeats):
- ``single_us``: ``ReviewSampler.inclusion_probability`` + ``draw`` for one prediction, the
  call the serving runtime makes once per request (uncertainty strategy, fitted).
- ``baseline_numpy_single_us``: the same through the vectorised numpy path with a
  one-element array, the obvious implementation we did not keep for single calls;
  ``single_speedup`` is their ratio.
- ``batch_us``: ``inclusion_probabilities`` + ``draws`` on 100,000 predictions at once,
  per prediction (the path for simulations and back-fills).

Run: ``.venv/bin/python bench/review_sampling.py`` (or from ``.venv-serve``: numpy only).
"""

from __future__ import annotations

import json
import timeit

import numpy as np

from decayguard.feedback.sampling import ReviewBudget, ReviewSampler

CALLS = 20_000
BATCH = 100_000


def main() -> None:
    rng = np.random.default_rng(0)
    reference = rng.beta(1.2, 3.0, 20_000)
    sampler = ReviewSampler("uncertainty", ReviewBudget(share=0.02)).fit(reference)
    scores = [float(s) for s in rng.beta(1.2, 3.0, CALLS)]

    def single() -> None:
        for s in scores:
            sampler.draw(sampler.inclusion_probability(s, None), rng)

    def numpy_single() -> None:
        for s in scores:
            p = sampler.inclusion_probabilities(np.asarray([s]))
            sampler.draws(p, rng)

    batch_scores = rng.beta(1.2, 3.0, BATCH)

    def batch() -> None:
        sampler.draws(sampler.inclusion_probabilities(batch_scores), rng)

    single_us = min(timeit.repeat(single, number=1, repeat=5)) / CALLS * 1e6
    numpy_us = min(timeit.repeat(numpy_single, number=1, repeat=5)) / CALLS * 1e6
    batch_us = min(timeit.repeat(batch, number=1, repeat=5)) / BATCH * 1e6
    print(f"single prediction (serving path): {single_us:8.2f} us")
    print(f"baseline, numpy one-element path: {numpy_us:8.2f} us  ({numpy_us / single_us:.1f}x)")
    print(f"batch of {BATCH:,}, per prediction:  {batch_us:8.3f} us")
    result = {
        "single_us": round(single_us, 3),
        "baseline_numpy_single_us": round(numpy_us, 3),
        "single_speedup": round(numpy_us / single_us, 2),
        "batch_us": round(batch_us, 4),
    }
    print("RESULT " + json.dumps(result))


if __name__ == "__main__":
    main()
