"""L-BFGS with a backtracking line search: how a linear head (`hiddenUnits: 0`) is trained to its optimum.

A softmax regression with an L2 penalty is convex, so it has one best model, and the accuracy study found that
reaching it matters: on the malaria features, the exact optimum scored 0.949 where 50 epochs of Adam on the same
objective scored 0.940-0.945 (docs/accuracy.md, run 6). L-BFGS gets there in about 50 steps, each one evaluation
of the loss and its gradient (two matrix products in TF.js, browser/tf_training.py `solve_linear`).

Pure Python on flat lists, so it is unit-tested on CPython; the vectors are the head's weights (features ×
classes), small next to the data the objective reads.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

# (value, gradient) of the objective at a point.
Objective = Callable[[list[float]], tuple[float, list[float]]]

MEMORY = 10  # correction pairs kept: the usual choice, more buys little on a well-conditioned problem
ARMIJO = 1e-4  # a step must lower the value by at least this share of what the slope promised
MAX_HALVINGS = 40


@dataclass
class Minimum:
    point: list[float]
    value: float
    iterations: int
    converged: bool


def _dot(a: list[float], b: list[float]) -> float:
    return math.fsum(map(operator.mul, a, b))


def _axpy(scale: float, x: list[float], y: list[float]) -> list[float]:
    """y + scale · x."""
    return [yi + scale * xi for xi, yi in zip(x, y)]


def _direction(gradient: list[float], pairs: list[tuple[list[float], list[float], float]]) -> list[float]:
    """-H·g by the two-loop recursion over the stored (s, y, 1/(y·s)) pairs."""
    q = list(gradient)
    alphas = []
    for s, y, rho in reversed(pairs):
        alpha = rho * _dot(s, q)
        alphas.append(alpha)
        q = _axpy(-alpha, y, q)
    if pairs:
        s, y, _rho = pairs[-1]
        gamma = _dot(s, y) / _dot(y, y)
        q = [gamma * v for v in q]
    for (s, y, rho), alpha in zip(pairs, reversed(alphas)):
        beta = rho * _dot(y, q)
        q = _axpy(alpha - beta, s, q)
    return [-v for v in q]


async def minimize(objective: Objective, start: list[float], max_iterations: int = 300,
                   tolerance: float = 1e-7, after_step: Callable[[int, float], Awaitable[bool]] | None = None,
                   ) -> Minimum:
    """Minimise a smooth convex `objective` from `start`. Stops when a step lowers the value by less than
    `tolerance` (relative), when no step along the direction lowers it (the float32 objective's resolution), after
    `max_iterations`, or when `after_step(iteration, value)` answers True (cancelled); it is awaited after every
    step, so the page can take its turn."""
    point = list(start)
    value, gradient = objective(point)
    pairs: list[tuple[list[float], list[float], float]] = []
    for iteration in range(1, max_iterations + 1):
        direction = _direction(gradient, pairs)
        slope = _dot(gradient, direction)
        if slope >= 0:  # not a descent direction (rounding): start again from the gradient
            pairs.clear()
            direction = [-g for g in gradient]
            slope = -_dot(gradient, gradient)
        if slope == 0:
            return Minimum(point, value, iteration - 1, True)
        step = 1.0 if pairs else min(1.0, 1.0 / math.sqrt(-slope))
        for _ in range(MAX_HALVINGS):
            candidate = _axpy(step, direction, point)
            new_value, new_gradient = objective(candidate)
            if math.isfinite(new_value) and new_value <= value + ARMIJO * step * slope:
                break
            step /= 2
        else:
            return Minimum(point, value, iteration - 1, True)
        s = [c - p for c, p in zip(candidate, point)]
        y = [n - g for n, g in zip(new_gradient, gradient)]
        curvature = _dot(s, y)
        if curvature > 1e-12:
            pairs.append((s, y, 1.0 / curvature))
            del pairs[:-MEMORY]
        gain = value - new_value
        point, value, gradient = candidate, new_value, new_gradient
        if after_step is not None and await after_step(iteration, value):
            return Minimum(point, value, iteration, False)
        if gain <= tolerance * max(1.0, abs(value)):
            return Minimum(point, value, iteration, True)
    return Minimum(point, value, max_iterations, False)
