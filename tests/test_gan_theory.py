"""The curriculum's GAN theory, checked numerically on 1-D densities.

Curriculum 004_bebb4d2f582ae06f.txt, lines 389-393: for a fixed G the optimal discriminator is
D*(x) = p_data(x) / (p_data(x) + p_g(x)), and
V(G, D*) = E_{p_data}[log D*] + E_{p_g}[log(1 - D*)] = 2·JS(p_data || p_g) - log 4,
with JS(p1||p2) = ½ KL(p1 || m) + ½ KL(p2 || m), m = (p1 + p2)/2.
Typo in the curriculum: line 383 writes the min-max value as E[log D(x)] + E_z[log D(G(z))]; the
value whose optimum is D* is E[log D(x)] + E_z[log(1 - D(G(z)))] (log D(G(z)) is the generator's
non-saturating *loss* trick, not the value function) — test (c) shows the typo's form does not give
2·JS - log 4.
"""
import math

import keras
import numpy as np
import pytest
from scipy import integrate, stats
from scipy.spatial.distance import jensenshannon

P_DATA = stats.norm(-1.0, 1.0)


class Mixture:
    """p_g: a two-component Gaussian mixture (so the densities are not both Gaussian)."""

    def __init__(self):
        self.parts, self.weights = [stats.norm(1.0, 0.6), stats.norm(2.5, 0.5)], [0.7, 0.3]

    def pdf(self, x):
        return sum(w * p.pdf(x) for w, p in zip(self.weights, self.parts))

    def rvs(self, n, rng):
        which = rng.random(n) < self.weights[0]
        return np.where(which, self.parts[0].rvs(n, random_state=rng),
                        self.parts[1].rvs(n, random_state=rng))


P_G = Mixture()
LO, HI = -9.0, 9.0  # both densities are < 1e-12 outside


def d_star(x):
    return P_DATA.pdf(x) / (P_DATA.pdf(x) + P_G.pdf(x))


GRID = np.linspace(LO, HI, 36_001)  # Simpson's rule on this grid: vectorised and accurate to ~1e-10


def value(d, p_data=P_DATA.pdf, p_g=P_G.pdf):
    """V(G, D) = ∫ p_data log D + p_g log(1 - D) dx (Simpson's rule on GRID)."""
    dx = np.clip(d(GRID), 1e-300, 1 - 1e-16)
    return integrate.simpson(p_data(GRID) * np.log(dx) + p_g(GRID) * np.log1p(-dx), x=GRID)


def kl(p, q):
    """KL(p || q) by adaptive quadrature (a route independent of ``value``)."""
    def integrand(x):
        px = p(x)
        return 0.0 if px < 1e-300 else px * (np.log(px) - np.log(q(x)))
    return integrate.quad(integrand, LO, HI, limit=200, points=[-1.0, 1.0, 2.5])[0]


def js(p, q):
    def m(x):
        return 0.5 * (p(x) + q(x))
    return 0.5 * kl(p, m) + 0.5 * kl(q, m)


# -------------------------------------------------------------- (b) V(G, D*) = 2 JS - log 4
def test_value_at_optimal_discriminator_is_2js_minus_log4():
    js_value = js(P_DATA.pdf, P_G.pdf)
    assert 0.1 < js_value < math.log(2)  # overlapping but different densities
    assert value(d_star) == pytest.approx(2 * js_value - math.log(4), abs=1e-7)
    # JS from an independent route: scipy's Jensen-Shannon distance on a fine grid.
    grid = np.linspace(LO, HI, 200_001)
    assert jensenshannon(P_DATA.pdf(grid), P_G.pdf(grid)) ** 2 == pytest.approx(js_value, abs=1e-6)


def test_identical_densities_give_minus_log4_and_zero_js():
    assert value(lambda x: np.full_like(x, 0.5), P_DATA.pdf, P_DATA.pdf) == \
        pytest.approx(-math.log(4), abs=1e-9)
    assert js(P_DATA.pdf, P_DATA.pdf) == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("perturb", [
    lambda x: 0.1 * np.sin(x),
    lambda x: -0.05 * np.ones_like(x),
    lambda x: 0.2 * np.exp(-(x - 0.5) ** 2),
])
def test_optimal_discriminator_maximises_the_value(perturb):
    best = value(d_star)

    def perturbed(x):
        return np.clip(d_star(x) + perturb(x), 1e-6, 1 - 1e-6)

    assert value(perturbed) < best - 1e-4
    # The other ratio p_g / (p_data + p_g) is far from optimal.
    assert value(lambda x: 1 - d_star(x)) < best - 0.5


def test_curriculum_typo_form_is_not_2js_minus_log4():
    def typo_value(d):  # line 383: E_data[log D(x)] + E_g[log D(x)]
        weight = P_DATA.pdf(GRID) + P_G.pdf(GRID)
        return integrate.simpson(weight * np.log(np.clip(d(GRID), 1e-300, 1.0)), x=GRID)

    target = 2 * js(P_DATA.pdf, P_G.pdf) - math.log(4)
    assert abs(typo_value(d_star) - target) > 0.5
    # ...and under the typo D* is not even the maximiser: D = 1 everywhere does better.
    assert typo_value(np.ones_like) > typo_value(d_star)


# ----------------------------------------------- (a) a trained discriminator approaches D*
def test_trained_discriminator_approaches_d_star():
    rng = np.random.default_rng(0)
    n = 20_000
    x = np.concatenate([P_DATA.rvs(n, random_state=rng), P_G.rvs(n, rng)]).astype("float32")
    y = np.concatenate([np.ones(n), np.zeros(n)]).astype("float32")
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(32, activation="tanh"),
                              keras.layers.Dense(32, activation="tanh"), keras.layers.Dense(1)])
    model.compile(keras.optimizers.Adam(1e-2), keras.losses.BinaryCrossentropy(from_logits=True))
    model.fit(x[:, None], y, batch_size=1000, epochs=12, shuffle=True, verbose=0)  # 480 steps

    grid = np.linspace(-3.0, 3.0, 61)  # where both densities carry mass (p_data + p_g > 0.01)
    assert np.all(P_DATA.pdf(grid) + P_G.pdf(grid) > 0.01)
    d = 1 / (1 + np.exp(-model.predict(grid[:, None], verbose=0)[:, 0]))
    target, wrong = d_star(grid), 1 - d_star(grid)
    # Tolerance 0.06: finite samples (20k per class) and 480 Adam steps.
    assert np.max(np.abs(d - target)) < 0.06
    assert np.mean(np.abs(d - wrong)) > 0.4  # the swapped ratio p_g/(p_data+p_g) is far away
