"""A frozen model swapped for its fused ops (fusion_plan.py, run by site/kernels.js) once they are shown to agree with it.

The check runs both on one small random image when the runner is made: a custom base or an imported model whose
layers the planner reads wrongly would otherwise give wrong embeddings or predictions silently. Folding and wiring
errors show at any image size, so a model that takes any size is checked at CHECK_SIDE px, not at 224: the layers
model is only run for this check, which sits on the start-up path.
"""

from __future__ import annotations

from typing import Any

from teachbox.browser import kernels, tfjs
from teachbox.model.fusion_plan import plan_fused

# Folding batch-norm changes float rounding only, far below this (docs/decisions.md).
TOLERANCE = 1e-3
CHECK_SIDE = 64  # MobileNets (total stride 32) still have a 2×2 map at the end


def fused_runner(model: Any, taps: tuple[str, ...] = (),
                 topology: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any] | None]:
    """(what to call .predict on, what was fused): the fused runner when the model has a plan and it agrees with
    the model, else the model itself. A fused runner also has `embed`, pooling the `taps` layers beside the output.
    The caller disposes a runner that is not the model; `topology` saves reading the model's again."""
    plan = plan_fused(topology if topology is not None else tfjs.topology(model), taps)
    if plan is None:
        return model, None
    runner = kernels.fused_ops(model, plan.to_json())
    fixed = tfjs.input_shape(model)[1]
    gap = tfjs.relative_gap(model, runner, CHECK_SIDE if fixed is None else fixed)
    if not gap <= TOLERANCE:  # also catches NaN
        runner.dispose()
        return model, {"rejected": f"the fused ops differ from the model by {gap:.2g} (relative)"}
    return runner, {"ops": len(plan.steps), "folded": plan.fused_layers()}
