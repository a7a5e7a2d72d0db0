"""Swarm health: a 0-1000 score from seeders and leechers, and how it weighs in ranking. Pure."""

from __future__ import annotations

import math

MAX_HEALTH = 1000
DEAD_WEIGHT = 0.25  # a dead swarm keeps a quarter of its relevance: it sinks, but is still found


def health_score(seeders: int, leechers: int) -> int:
    """0 with no seeders (dead); 100 for one seeder, ~1000 from a thousand up; leechers add a little."""
    if seeders <= 0:
        return 0
    score = 100 * math.log2(1 + seeders) + 10 * math.log2(1 + max(0, leechers))
    return min(MAX_HEALTH, round(score))


def health_weight(health: int) -> float:
    """The factor relevance is multiplied by: DEAD_WEIGHT for a dead swarm up to 1.0 for a healthy one."""
    return DEAD_WEIGHT + (1 - DEAD_WEIGHT) * min(MAX_HEALTH, max(0, health)) / MAX_HEALTH
