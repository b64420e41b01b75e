"""The linear head's solver (model/lbfgs.py) on problems whose optimum is known: it must find it, stop when asked,
and survive a direction that rounding made useless."""

from __future__ import annotations

import math
import random
from collections.abc import Coroutine
from typing import Any

from teachbox.model.lbfgs import Minimum, minimize


def run(coroutine: Coroutine[Any, Any, Minimum]) -> Minimum:
    """Drive minimize() to its end without an event loop (none of these objectives or callbacks suspends; and in
    the whole suite Playwright's sync API already holds the thread's loop, so asyncio.run() is refused)."""
    try:
        coroutine.send(None)
    except StopIteration as finished:
        return finished.value
    raise AssertionError("minimize suspended, but nothing here awaits anything that suspends")


def quadratic(centre: list[float], scales: list[float]):  # noqa: ANN201
    """½ Σ scale·(x - centre)²: minimum 0 at `centre`, condition number max/min scale."""
    def objective(point: list[float]) -> tuple[float, list[float]]:
        value = 0.5 * sum(s * (p - c) ** 2 for p, c, s in zip(point, centre, scales))
        return value, [s * (p - c) for p, c, s in zip(point, centre, scales)]
    return objective


def logistic(rows: list[list[float]], labels: list[int], l2: float):  # noqa: ANN201
    """Mean log-loss + l2·|w|² of a logistic regression (no intercept): the head's objective with two classes."""
    def objective(w: list[float]) -> tuple[float, list[float]]:
        value, gradient = 0.0, [2 * l2 * wi for wi in w]
        for row, label in zip(rows, labels):
            z = sum(a * b for a, b in zip(row, w))
            value += (math.log1p(math.exp(-abs(z))) + max(z, 0) - label * z) / len(rows)
            p = 1 / (1 + math.exp(-z))
            gradient = [g + (p - label) * a / len(rows) for g, a in zip(gradient, row)]
        return value + l2 * sum(wi * wi for wi in w), gradient
    return objective


def test_an_ill_conditioned_quadratic_is_solved() -> None:
    centre = [3.0, -1.0, 0.5, 10.0, -7.0]
    found = run(minimize(quadratic(centre, [1e3, 1.0, 10.0, 0.1, 50.0]), [0.0] * 5, tolerance=1e-14))
    assert found.converged
    assert max(abs(p - c) for p, c in zip(found.point, centre)) < 1e-3
    assert found.iterations < 100


def test_the_logistic_optimum_has_zero_gradient_and_beats_nearby_points() -> None:
    draw = random.Random(0)
    rows = [[draw.gauss(0, 1) for _ in range(6)] for _ in range(200)]
    truth = [draw.gauss(0, 1) for _ in range(6)]
    labels = [int(sum(a * b for a, b in zip(row, truth)) + draw.gauss(0, 0.5) > 0) for row in rows]
    objective = logistic(rows, labels, 0.01)
    found = run(minimize(objective, [0.0] * 6, tolerance=1e-12))
    value, gradient = objective(found.point)
    assert max(abs(g) for g in gradient) < 1e-4
    for _ in range(20):
        nearby = [p + draw.gauss(0, 0.05) for p in found.point]
        assert objective(nearby)[0] >= value - 1e-12


def test_after_step_can_stop_it_and_sees_the_value_fall() -> None:
    seen: list[float] = []

    async def after_step(iteration: int, value: float) -> bool:
        seen.append(value)
        return iteration == 3

    found = run(minimize(quadratic([5.0] * 4, [1.0, 2.0, 3.0, 4.0]), [0.0] * 4, after_step=after_step))
    assert found.iterations == 3 and not found.converged
    assert seen == sorted(seen, reverse=True) and len(seen) == 3


def test_a_flat_start_is_already_the_minimum() -> None:
    found = run(minimize(quadratic([0.0, 0.0], [1.0, 1.0]), [0.0, 0.0]))
    assert found.converged and found.iterations == 0 and found.value == 0.0
