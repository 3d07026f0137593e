"""Batched optimizers for ensembles: every parameter has a leading member axis S.

Members differ in learning rate and weight decay ([S] tensors), never in shapes; a member's
trajectory equals the same member optimised alone with torch.optim on its unstacked parameters.
`step(active)` leaves inactive members (params and state) untouched.

    from groklab.optim import build_optimizer
    opt = build_optimizer(dict(model.named_parameters()), kind="adam", lr=lr, weight_decay=wd)
"""

from groklab.optim.adam import Adam, AdamW
from groklab.optim.base import BatchedOptimizer, CombinedOptimizer
from groklab.optim.build import KINDS, ROUTINGS, build_optimizer, route
from groklab.optim.muon import LI2_NS_COEFFICIENTS, TORCH_NS_COEFFICIENTS, Muon, newton_schulz
from groklab.optim.sgd import SGD
from groklab.optim.transforms import GradientTransform, GrokfastEMA, OrthoGrad

__all__ = [
    "Adam",
    "AdamW",
    "BatchedOptimizer",
    "CombinedOptimizer",
    "GradientTransform",
    "GrokfastEMA",
    "KINDS",
    "LI2_NS_COEFFICIENTS",
    "Muon",
    "OrthoGrad",
    "ROUTINGS",
    "SGD",
    "TORCH_NS_COEFFICIENTS",
    "build_optimizer",
    "newton_schulz",
    "route",
]
