"""Budget-paced bidding with a CTR model (the computational-advertising use of CTR prediction).

An advertiser values a click at ``value`` and meets a stream of impressions, each sold in a
second-price auction: it wins when its bid exceeds the highest competing bid (the market price)
and then pays that price. The expected-value bid is ``value * pCTR``; with a budget B over T
auctions, Lagrangian pacing (Balseiro & Gur 2019; the dual form of the budget constraint) bids
``value * pCTR / (1 + μ)`` and moves the multiplier by a subgradient step after each auction,
``μ ← max(0, μ + η (cost_t − B/T) / (B/T))``, so spending tracks B/T instead of running dry early.
Market prices are synthetic (a log-normal): MovieLens has no auction logs.
"""
from __future__ import annotations

import numpy as np


def market_prices(n: int, seed: int = 0, median: float = 0.5, sigma: float = 0.5) -> np.ndarray:
    """float64 [n]: the highest competing bid of each auction, log-normal around ``median``."""
    if n < 1 or median <= 0 or sigma < 0:
        raise ValueError(f"need n >= 1, median > 0, sigma >= 0; got {n}, {median}, {sigma}")
    return median * np.exp(sigma * np.random.default_rng(seed).standard_normal(n))


def simulate(ctr, clicks, prices, budget, *, value=1.0, pacing=True, step=0.01) -> dict:
    """Run the auctions in order; ``ctr`` the predicted click probabilities, ``clicks`` the 0/1
    outcomes had the ad been shown. Returns clicks won, spend, wins, cost per click and the
    fraction of the stream at which the budget ran out (1.0 if it never did). The multiplier
    moves by ``step`` times the auction's relative overspend, (cost_t − B/T) / (B/T)."""
    ctr, clicks, prices = (np.asarray(a, np.float64).ravel() for a in (ctr, clicks, prices))
    if not len(ctr) == len(clicks) == len(prices) or not len(ctr):
        raise ValueError(f"ctr, clicks, prices must be non-empty and equally long, got "
                         f"{len(ctr)}, {len(clicks)}, {len(prices)}")
    if budget <= 0:
        raise ValueError(f"budget must be > 0, got {budget}")
    rate = budget / len(ctr)  # target spend per auction
    mu, spend, won, wins, exhausted = 0.0, 0.0, 0.0, 0, None
    for t, (p, c, price) in enumerate(zip(ctr, clicks, prices)):
        bid = value * p / (1.0 + mu)
        cost = price if bid > price and spend + price <= budget else 0.0
        if cost:
            spend, won, wins = spend + cost, won + c, wins + 1
        elif bid > price and exhausted is None:
            exhausted = t / len(ctr)
        if pacing:
            mu = max(0.0, mu + step * (cost - rate) / rate)
    return {"clicks": float(won), "spend": float(spend), "wins": wins,
            "cost_per_click": float(spend / won) if won else float("inf"),
            "exhausted_at": 1.0 if exhausted is None else float(exhausted)}
