"""A frozen model swapped for its fused ops (fusion.py, run by site/kernels.js) once they are shown to agree with it.

The check runs both on one small random image when the runner is made: a custom base or an imported model whose
layers the planner reads wrongly would otherwise give wrong embeddings or predictions silently. Folding and wiring
errors show at any image size, so a model that takes any size is checked at CHECK_SIDE px, not at 224: the layers
model is only run for this check, and at 224 it cost ~15 ms more on the start-up path.
"""

from __future__ import annotations

from typing import Any

from teachbox import jsbridge
from teachbox.model.fusion_plan import plan_fused
from teachbox.jsbridge import tf

# Folding batch-norm changes float rounding only: measured 3e-5 of the largest activation (v1 α=0.25, 224 px).
TOLERANCE = 1e-3
CHECK_SIDE = 64  # MobileNets (total stride 32) still have a 2×2 map at the end


def fused_runner(model: Any) -> tuple[Any, dict[str, Any] | None]:
    """(what to call .predict on, what was fused): the fused runner when the model has a plan and it agrees with
    the model, else the model itself. The caller disposes a runner that is not the model."""
    plan = plan_fused(jsbridge.topology(model))
    if plan is None:
        return model, None
    runner = jsbridge.fused_runner(model, plan.to_json())
    fixed = list(model.inputs[0].shape.to_py())[1]
    side = CHECK_SIDE if jsbridge.is_nullish(fixed) else int(fixed)
    gap_tensor = jsbridge.tidy(lambda: _relative_gap(model, runner, side))
    gap = float(gap_tensor.dataSync()[0])
    gap_tensor.dispose()
    if not gap <= TOLERANCE:  # also catches NaN
        runner.dispose()
        return model, {"rejected": f"the fused ops differ from the model by {gap:.2g} (relative)"}
    return runner, {"ops": len(plan.steps), "folded": plan.fused_layers()}


def _relative_gap(model: Any, runner: Any, side: int) -> Any:
    """max |model − runner| / max |model| on one random image (a scalar tensor; call inside tidy)."""
    image = tf.randomUniform(jsbridge.to_js([1, side, side, 3]), -1, 1, "float32", 7)
    expected = model.predict(image)
    return tf.div(tf.max(tf.abs(tf.sub(expected, runner.predict(image)))), tf.maximum(tf.max(tf.abs(expected)), 1e-6))
