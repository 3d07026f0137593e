"""The Li₂ training hook: gradient diagnostics every `li2.every` epochs, stored as series.

`hooks_from_config(cfg)` returns `(Li2Hook,)` when `cfg.li2.every > 0` (else `()`); pass it to
`groklab.train.loop.train(cfg, hooks=...)`. At every `li2.every`-th epoch and at the last one, the hook
computes, for every member on its training set, these keys ([S] tensors; the store keeps one value
per run, epoch and key):

    li2.gf_norm          ‖G_F‖_F, paper centring: ‖P₁⊥(Y − Ŷ)·βV‖ (Eqn 2)                     [MSE]
    li2.gf_norm_class    ‖G_F‖ of the class-centred loss (the reference code's): ‖(Y − 1/C − ŶP_C)·βV‖ [MSE]
    li2.gf_norm_ref      reference `dF_norm`: ‖(Y − 1/C − Ŷ)·βV‖ (raw output: includes its class mean)  [MSE]
    li2.gf_stage2_cos    cos(G_F, ỸỸᵀF̃), the Stage II signature (Lemma 1)                      [MSE]
    li2.kernel_offdiag   mean|off-diag| / mean|diag| of F̃ᵀF̃ on `li2.kernel_samples` nodes
    li2.ff_ideal_dist    distance of FFᵀ from aI + b11ᵀ (reference statistic), sampled rows
    li2.ff_ideal_dist_c  the same for the centred kernel F̃F̃ᵀ
    li2.dW_cos, li2.dV_cos  cosine of consecutive updates of W and of V (between consecutive hook
                         calls: exactly consecutive steps when li2.every = 1; NaN — not stored — for
                         the first two calls, and again after a resume, as the hook keeps them in memory)
    li2.sign_match       Thm 6 sign rule on the 64 most similar node pairs ("similar nodes repel")  [MSE, sparse]
    li2.v_ridge_dist     ‖βVᵀ − V_ridge(F)‖/‖V_ridge‖ with the loss's centring and nominal η       [MSE, sparse]
    li2.coverage         fraction of non-trivial irreps that are the dominant irrep of an active node
                         with purity ≥ 0.8 (`features.coverage`)                                    [group tasks]
    li2.purity           mean purity of the active nodes' dominant irrep                            [group tasks]
    li2.active_frac      fraction of nodes that are active (‖w_j‖ ≥ ¼ max)                          [group tasks]

[MSE]: only with loss.kind=mse (G_F and the ridge solution are defined for the MSE loss).
[sparse]: these need the full K×K Gram matrix and its Cholesky factor (O(nK² + K³) per member), so
they run on every `heavy_every`-th call (default: about 12 times per run, at most every 10th call)
and at the last epoch. [group tasks]: op=compose (the group), add/sub (Z_p); absent otherwise.
The row and node subsamples are drawn once per hook and per member (seeded by the member's own seed), so a
series compares like with like and a packed member's series equal those of the same run trained alone. η is
the nominal conversion of each member's weight decay (docs/li2-quantities.md#losses-and-eta,
`diagnostics.nominal_eta`). Cost at Z71/K=2048 (2-core CPU, best of repeated interleaved timings): a call
takes about as long as one full-batch training step (≈ 40 ms for two members) — it recomputes F and the
n·K·C product Ŷ, everything else is C×C, K×C or 256-sized — and a call with the K×K diagnostics ≈ 15
steps, on ~12 calls per run. Nothing n×n is formed.

`stages_from_series(frame)` turns the stored series (a `Store.series` DataFrame) into stage onset
epochs per run via `groklab.li2.stages.segment`; `record_stages(store, run_ids)` does that for stored
runs and merges `stages: {"I": e, "II": e, "III": e}` into their summaries (`groklab train` calls it
when li2.every > 0; a sweep driver that stores outcomes itself should call it too).
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np
import torch

from groklab.errors import GroklabError
from groklab.li2 import diagnostics as D
from groklab.li2 import features as feats
from groklab.li2.stages import StageRule, segment

KEYS = ("li2.gf_norm", "li2.gf_norm_class", "li2.gf_norm_ref", "li2.gf_stage2_cos", "li2.kernel_offdiag", "li2.ff_ideal_dist",
        "li2.ff_ideal_dist_c", "li2.dW_cos", "li2.dV_cos", "li2.sign_match", "li2.v_ridge_dist", "li2.coverage",
        "li2.purity", "li2.active_frac")
SIGN_PAIRS = 64
HEAVY_POINTS = 12  # target number of K×K (sign match, ridge distance) evaluations per run
CHUNK_ELEMENTS = 2**26  # members × rows × width per chunk of the light diagnostics (bounds memory)


def task_group(cfg):
    """The group whose irreps label the features, or None (Muon-paper ops other than add/sub, parity)."""
    from groklab.groups import get_group

    if cfg.task.op == "compose":
        return get_group(cfg.task.group)
    if cfg.task.op in ("add", "sub"):
        return get_group(f"Z{cfg.task.modulus}")
    return None


class Li2Hook:
    """Computes the Li₂ diagnostics (module docstring) for a `TwoLayerEnsemble` during training."""

    def __init__(self, cfg, heavy_every: int | None = None):
        self.every = int(cfg.li2.every)
        self.samples = int(cfg.li2.kernel_samples)
        self.last_epoch = int(cfg.train.epochs)
        self.mse = cfg.loss.kind == "mse"
        self.centring = cfg.loss.centring
        self.output_scale = float(cfg.model.output_scale)
        self.weight_decay = cfg.member_values("weight_decay")
        calls = max(1, self.last_epoch // max(self.every, 1))
        self.heavy_every = int(heavy_every) if heavy_every else max(10, math.ceil(calls / HEAVY_POINTS))
        self.group = task_group(cfg)
        self.seeds = [int(seed) for seed in cfg.member_seeds()]
        self._params: deque = deque(maxlen=2)  # (W, V) at the previous two calls
        self._rows = self._nodes = None

    # -- helpers -------------------------------------------------------------------------------
    def _subsamples(self, n: int, K: int, device) -> None:
        """Row and node subsamples [S, m], each member's drawn from its own seed, so a packed member's
        series equal those of the same run trained alone."""
        if self._rows is None:
            rows, nodes = [], []
            for seed in self.seeds:
                g = torch.Generator().manual_seed(seed + 104_729)
                rows.append(torch.randperm(n, generator=g)[: min(self.samples, n)].sort().values)
                nodes.append(torch.randperm(K, generator=g)[: min(self.samples, K)].sort().values)
            self._rows, self._nodes = torch.stack(rows).to(device), torch.stack(nodes).to(device)

    def select_members(self, positions: list[int]) -> None:
        """Keep only the members at `positions` (the training loop compacts the stack when members stop)."""
        self.seeds = [self.seeds[i] for i in positions]
        self.weight_decay = [self.weight_decay[i] for i in positions]
        if self._rows is not None:
            index = torch.tensor(positions, device=self._rows.device)
            self._rows, self._nodes = self._rows[index], self._nodes[index]
        self._params = deque(((W[positions], V[positions]) for W, V in self._params), maxlen=2)

    def heavy_due(self, epoch: int) -> bool:
        return epoch == self.last_epoch or (epoch // max(self.every, 1)) % self.heavy_every == 0

    # -- the call ------------------------------------------------------------------------------
    @torch.no_grad()
    def __call__(self, ctx) -> dict[str, torch.Tensor]:
        model, data = ctx.model, ctx.data
        W, V = model.W.detach(), model.V.detach()
        S, n = data.y_train.shape
        K = W.shape[1]
        self._subsamples(n, K, W.device)
        out: dict[str, list] = {}

        def put(key, value):
            out.setdefault(key, []).append(value.detach().to(torch.float64).cpu())

        chunk = max(1, CHUNK_ELEMENTS // max(1, n * K))
        heavy = self.mse and self.heavy_due(ctx.epoch)
        for lo in range(0, S, chunk):
            hi = min(S, lo + chunk)
            F = model.hidden(data.x_train) if S <= chunk else self._hidden(model, data.x_train, lo, hi)
            y = data.y_train[lo:hi]
            if self.mse:
                stats = D.gradient_stats(F, V[lo:hi], y, self.output_scale)
                put("li2.gf_norm", stats["gf_norm"])
                put("li2.gf_norm_class", stats["gf_norm_class"])
                put("li2.gf_norm_ref", stats["gf_norm_ref"])
                put("li2.gf_stage2_cos", stats["gf_stage2_cos"])
            put("li2.kernel_offdiag", D.kernel_offdiag_ratio(F, self._nodes[lo:hi]))
            put("li2.ff_ideal_dist", D.ff_ideal_distance(F, self._rows[lo:hi], centre=False))
            put("li2.ff_ideal_dist_c", D.ff_ideal_distance(F, self._rows[lo:hi], centre=True))
            if heavy:  # one member at a time: the K×K float64 system is the big array here
                for s in range(lo, hi):
                    Fs, ys = F[s - lo : s - lo + 1], y[s - lo : s - lo + 1]
                    eta = D.nominal_eta(n, self.weight_decay[s], self.centring, self.output_scale)
                    system = D.ridge_system(Fs, eta)
                    put("li2.sign_match", D.sign_match(Fs, eta, SIGN_PAIRS, system=system))
                    put("li2.v_ridge_dist", D.ridge_distance(Fs, V[s : s + 1], ys, eta, self.centring, self.output_scale,
                                                             system=system))
            del F
        result = {k: torch.cat(v) for k, v in out.items()}

        nan = torch.full((S,), float("nan"), dtype=torch.float64)
        if len(self._params) == 2:
            (W0, V0), (W1, V1) = self._params
            result["li2.dW_cos"] = D.update_cosine(W0, W1, W).cpu()
            result["li2.dV_cos"] = D.update_cosine(V0, V1, V).cpu()
        else:
            result["li2.dW_cos"] = result["li2.dV_cos"] = nan
        self._params.append((W.clone(), V.clone()))

        if self.group is not None and W.shape[-1] % self.group.order == 0:
            cov = feats.coverage(W, self.group)
            result["li2.coverage"] = cov["fraction"].cpu()
            result["li2.purity"] = cov["mean_purity"].cpu()
            result["li2.active_frac"] = cov["active"].to(torch.float64).mean(dim=-1).cpu()
        return result

    @staticmethod
    def _hidden(model, x, lo, hi):
        """`model.hidden` for members lo..hi only, so a chunk never holds all S members' features."""
        from groklab.models.gather import gather_activation

        h = gather_activation(model.W[lo:hi], model.offset_index(x[lo:hi]), model.activation)
        for U in model.U:
            h = model.act(torch.baddbmm(h, h, U[lo:hi].transpose(1, 2)))
        return h


def hooks_from_config(cfg) -> tuple:
    """`(Li2Hook(cfg),)` when cfg.li2.every > 0, and the transformer feature hook when cfg.features.every > 0
    (`groklab.li2.features_hook`); `()` when neither. The Li2 diagnostics need the two-layer model."""
    from groklab.li2.features_hook import feature_hooks

    if cfg.li2.every <= 0:
        return feature_hooks(cfg)
    if cfg.model.kind != "two_layer":
        raise GroklabError(f"li2.every={cfg.li2.every} needs model.kind=two_layer (the Li2 network), got {cfg.model.kind!r}; set li2.every=0")
    if cfg.model.complex_weights:
        raise GroklabError("li2.every > 0 is not supported with model.complex_weights=true; set li2.every=0")
    return (Li2Hook(cfg), *feature_hooks(cfg))


def stages_from_series(frame, rule: StageRule | None = None) -> dict[str, dict]:
    """Stage onset epochs per run from a long series frame (columns run_id, epoch, key, value), as
    `{run_id: {"I": e, "II": e or None, "III": e or None}}` (`groklab.li2.stages.segment`)."""
    out = {}
    if frame is None or len(frame) == 0:
        return out
    for run_id, rows in frame.groupby("run_id"):
        wide = rows.pivot_table(index="epoch", columns="key", values="value", aggfunc="last").sort_index()
        series = {k: wide[k].to_numpy(dtype=float) for k in wide.columns if str(k).startswith("li2.")}
        if not series:
            continue
        out[str(run_id)] = segment(np.asarray(wide.index, dtype=float), series, rule).as_dict()
    return out


def record_stages(store, run_ids, rule: StageRule | None = None) -> dict[str, dict]:
    """Compute the stages of `run_ids` from their stored series and merge them into each run's summary
    as `stages` (runs without Li2 series are left alone). `store`: a `groklab.store.Store` (passed in,
    so this layer does not import the store). Returns {run_id: stages}."""
    run_ids = list(run_ids)
    frame = store.series(run_ids)
    if len(frame):
        frame = frame[frame["key"].str.startswith("li2.")]
    stages = stages_from_series(frame, rule)
    for run_id, value in stages.items():
        store.update_summary(run_id, {"stages": value})
    return stages
