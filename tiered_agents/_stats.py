"""Finite-sample tests behind `calibrate`'s certificate and the drift check (pure Python).

- `sign_test`: exact binomial test on the questions where a policy and the top tier disagree.
- `betting_test`: a test by betting (Waudby-Smith and Ramdas, 2023) on the paired loss, which
  also uses the quality slack the target leaves; its e-value is averaged over fixed
  permutations, so the result does not depend on the order of the examples.
- `ks_test`: two-sample Kolmogorov-Smirnov test (asymptotic p-value with Stephens'
  correction), for drift between calibration-time and live verifier scores.
"""

from __future__ import annotations

import bisect
import math
import random
from collections.abc import Sequence

__all__ = ["betting_test", "binom_cdf", "ks_test", "sign_test"]


def binom_cdf(k: int, n: int, p: float) -> float:
    """P(Binomial(n, p) <= k), summed exactly in log space."""
    if k < 0:
        return 0.0
    if k >= n:
        return 1.0
    log_p, log_q = math.log(p), math.log1p(-p)
    head = math.lgamma(n + 1)
    total = sum(math.exp(head - math.lgamma(i + 1) - math.lgamma(n - i + 1)
                         + i * log_p + (n - i) * log_q) for i in range(k + 1))
    return min(1.0, total)


def sign_test(worse: int, better: int, target: float) -> float:
    """p-value of "accuracy < target x the top tier's" from the discordant questions.

    `worse`: questions the top tier got right and the policy wrong; `better`: the reverse.
    The null implies target x P(worse) >= P(better), so among discordant questions a "worse"
    has probability at least 1 / (1 + target); the test is exact and conservative (it gives up
    the (1 - target) x accuracy slack, which `betting_test` uses).
    """
    discordant = worse + better
    if discordant == 0:
        return 1.0
    return binom_cdf(worse, discordant, 1 / (1 + target))


CAP = 0.8
"""The largest bet, as a share of what keeps the wealth positive (1 / target)."""


def betting_test(losses: Sequence[float], target: float, *, permutations: int = 16,
                 seed: int = 0) -> float:
    """p-value of "mean loss >= 0" for losses in [-1, target] (loss = target x top correct
    - policy correct), by betting against the null with a predictable, variance-adaptive
    stake (the GRAPA plug-in). The averaged final wealth is an e-value, so 1 / wealth is a
    valid p-value by Markov's inequality."""
    n = len(losses)
    if n == 0:
        return 1.0
    rng = random.Random(seed)
    order = list(range(n))
    wealth = 0.0
    limit = CAP / target
    for _ in range(permutations):
        rng.shuffle(order)
        capital, total, squares = 1.0, 0.0, 0.0
        for seen, i in enumerate(order):
            mean = total / (seen + 1)  # shrunk towards 0 (the null's edge)
            variance = max((squares + 0.25) / (seen + 1) - mean * mean, 1e-4)
            stake = min(-mean / (variance + mean * mean), limit) if mean < 0 else 0.0
            capital *= 1 - stake * losses[i]
            total += losses[i]
            squares += losses[i] * losses[i]
        wealth += capital
    return min(1.0, permutations / wealth) if wealth > 0 else 1.0


def ks_test(reference: Sequence[float], observed: Sequence[float]) -> tuple[float, float]:
    """Two-sample Kolmogorov-Smirnov statistic and asymptotic p-value (conservative with ties)."""
    a, b = sorted(reference), sorted(observed)
    n, m = len(a), len(b)
    if n == 0 or m == 0:
        return 0.0, 1.0
    statistic = 0.0
    for x in a + b:
        statistic = max(statistic, abs(bisect.bisect_right(a, x) / n -
                                       bisect.bisect_right(b, x) / m))
    effective = math.sqrt(n * m / (n + m))
    lam = (effective + 0.12 + 0.11 / effective) * statistic
    if lam < 1e-3:
        return statistic, 1.0
    p = 2 * sum((-1) ** (k - 1) * math.exp(-2 * k * k * lam * lam) for k in range(1, 101))
    return statistic, min(1.0, max(0.0, p))
