"""The loss kinds: one registry for `get_loss`, the config and the report's axis labels.

No torch here, so that the config reads the names without loading torch; `impl` names the function in
`groklab.losses.functions` that computes the loss.
"""

from __future__ import annotations

from dataclasses import dataclass

from groklab.precisions import PRECISIONS


@dataclass(frozen=True)
class LossKind:
    impl: str  # function in groklab.losses.functions
    axis_label: str  # the report's loss axis; {centring} is filled in for the MSE


LOSS_KINDS: dict[str, LossKind] = {
    # the reference default; get_loss(centring="sample") picks the paper's mse_sample_centred
    "mse": LossKind("mse_class_centred", "loss (MSE, {centring}-centred)"),
    "ce": LossKind("cross_entropy", "loss (cross-entropy, nats)"),
    "stablemax": LossKind("stablemax_cross_entropy", "loss (StableMax cross-entropy, nats)"),
    "sparsemax": LossKind("sparsemax_loss", "loss (sparsemax loss)"),
}
CENTRINGS = ("class", "sample")  # the MSE's centring axis: the reference code's, or the paper's
LOSS_DTYPES = tuple(PRECISIONS)  # the precision of 'ce' (groklab.dtypes.DTYPES)
