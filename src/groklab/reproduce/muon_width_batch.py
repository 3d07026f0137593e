"""`groklab reproduce muon-width-batch`: does Muon's head start survive changes of width and batch size?

A public follow-up to Tveit et al. reported that on div mod 97 with a 50/50 split Muon's advantage over
AdamW disappears across embedding width × batch size. This reproduction asks the same question with a
design fixed before any of its runs (docs/reproductions.md#muon-width-batch):

- full: div mod 97, 50 % random split per seed, the muon-grokking transformer (depth 2, 1 head, SwiGLU 4×,
  pre-RMSNorm, dropout 0.2, RoPE base 1e6), cross-entropy output; width d ∈ {64, 128, 256} × batch
  B ∈ {256, full}; a 1000-epoch budget, runs stop at their confirmed grok; seeds 0–4.
  AdamW (betas 0.9/0.98, wd 1.0) at lr ∈ {3e-4, 1e-3, 3e-3}; Muon (the muon-grokking arm: torch variant,
  momentum 0.95, Nesterov, 5 float32 Newton–Schulz steps, AdamW at lr 1e-3 on embedding, head and gains,
  wd 1.0) at hidden-matrix lr ∈ {0.01, 0.02, 0.05}.
- Each optimizer's lr is chosen per cell on seed 0 alone (earliest grok; a run that never groks ranks after
  every run that does, then by best test accuracy) and judged on seeds 1–4, so the lr search cannot choose
  the result. Every run of the grid is trained (the lr grid is one ensemble per cell and optimizer), so the
  choice is made after training but reads seed 0 only.
- quick (CI, about a minute on two CPU cores): add mod 23 (div mod 23 at this split does not grok within
  800 epochs at width 32), widths {16, 32} × batch {64, full}, depth 1,
  no dropout, 200 epochs, seeds 0–2 (chosen on 0, judged on 1–2), AdamW lr {3e-3, 1e-2}, Muon lr
  {0.02, 0.05} with AdamW lr 1e-2 on the rest: it exercises the pipeline; its numbers are not evidence.

Per cell the result is the Muon − AdamW difference of Kaplan–Meier median grok epochs on the judged seeds
(a run that never groks is censored, never given the budget) with a seed-bootstrap CI, and the log-rank
test, Holm-corrected over the cells (statistics in muon_width_batch_stats).
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from groklab.config import RunConfig, load_config
from groklab.errors import GroklabError
from groklab.reproduce import Context, Verdict
from groklab.reproduce.grid_runs import check_store_design, estimate_sweep, train_sweep
from groklab.reproduce.muon_grokking import _ADAMW, _COMMON, _MUON
from groklab.reproduce.muon_width_batch_stats import analyse, heatmap_figure, survival_figure, verdicts
from groklab.store import Store
from groklab.sweep.spec import SweepSpec, spec_from_dict
from groklab.train.loop import plan_members

CLAIM = ("Muon groks sooner than AdamW on div mod 97 (50/50 split) at every embedding width and batch size, "
         "each optimizer at its best learning rate")

TAKES_WORKERS = True  # --workers
TAKES_STORED_ONLY = True  # --stored-only
OPTIMIZERS = ("adamw", "muon")
SELECT_SEED = 0  # the learning rate is chosen on this seed and judged on the others


@dataclass(frozen=True)
class Design:
    mode: str
    widths: tuple[int, ...]
    batches: tuple[int | None, ...]  # None: the full training set in one step
    lrs: dict  # optimizer -> learning rates searched (AdamW: optim.lr; Muon: optim.muon_lr)
    seeds: tuple[int, ...]
    overrides: tuple[str, ...]

    @property
    def epochs(self) -> int:
        return int(next(o for o in self.overrides if o.startswith("train.epochs=")).split("=")[1])

    @property
    def judged_seeds(self) -> tuple[int, ...]:
        return tuple(s for s in self.seeds if s != SELECT_SEED)

    def describe(self) -> str:
        mod = next(o for o in self.overrides if o.startswith("task.modulus=")).split("=")[1]
        op = next(o for o in self.overrides if o.startswith("task.op=")).split("=")[1]
        batches = ", ".join("full" if b is None else str(b) for b in self.batches)
        return (f"{self.mode}: {op} mod {mod}, 50/50 split, width {{{', '.join(map(str, self.widths))}}} × batch "
                f"{{{batches}}}, lr chosen on seed {SELECT_SEED}, judged on seeds "
                f"{', '.join(map(str, self.judged_seeds))}, {self.epochs} epochs")


_TASK = ["task.train_fraction=0.5", "loss.kind=ce"]
FULL = Design("full", (64, 128, 256), (256, None), {"adamw": (3e-4, 1e-3, 3e-3), "muon": (0.01, 0.02, 0.05)},
              tuple(range(5)), tuple(_COMMON + _TASK + ["task.op=div",
                  "task.modulus=97", "model.depth=2", "model.dropout=0.2", "optim.lr=1e-3", "train.epochs=1000",
                  "train.snapshot_every=100", "train.train_eval_every=10"]))
# quick: add, not div: div mod 23 at a 50 % split does not grok within 800 epochs at width 32 (measured), so a
# div quick mode would only ever exercise censoring
QUICK = Design("quick", (16, 32), (64, None), {"adamw": (3e-3, 1e-2), "muon": (0.02, 0.05)}, tuple(range(3)),
               tuple(_COMMON + _TASK + ["task.op=add",
                   "task.modulus=23", "model.depth=1", "model.dropout=0", "optim.lr=1e-2", "train.epochs=200",
                   "train.checkpoint_every=200"]))


def make_design(quick: bool, seeds: int | None = None) -> Design:
    design = QUICK if quick else FULL
    if seeds is not None:
        if seeds < 2:
            raise GroklabError(f"--seeds must be >= 2 (seed {SELECT_SEED} chooses the lr, the others judge it), "
                               f"got {seeds}")
        design = Design(design.mode, design.widths, design.batches, design.lrs, tuple(range(seeds)),
                        design.overrides)
    return design


def check_options(*, quick: bool, medium: bool, seeds: int | None, tasks) -> None:
    make_design(quick, seeds)


def check_store(store_path: str, *, quick: bool, medium: bool, seeds: int | None, tasks) -> None:
    """Refuse a store holding muon-width-batch runs of another design (checked before anything is written)."""
    design = make_design(quick, seeds)

    def run_id_of(config: dict, seed: int) -> str | None:
        optim, width = config.get("optim", {}), config.get("model", {}).get("width")
        optimizer, batch = optim.get("kind"), config.get("train", {}).get("batch_size")
        if optimizer not in OPTIMIZERS or width is None:
            return None
        lr = optim.get("lr") if optimizer == "adamw" else optim.get("muon_lr")
        return plan_members(run_config(design, width, batch, optimizer, lr, seed, store_path))[1][0]

    check_store_design(Store(store_path), "muon-width-batch-", run_id_of, design.describe())


def _arm(optimizer: str, lr: float) -> list[str]:
    return [*_ADAMW, f"optim.lr={lr}"] if optimizer == "adamw" else [*_MUON, f"optim.muon_lr={lr}"]


def estimate(ctx: Context) -> dict:
    """The grid's run time on this machine, projected from a few timed ensembles (nothing is written)."""
    design = make_design(ctx.quick, ctx.seeds)
    return estimate_sweep(sweep_spec(design, ctx.store_path), ctx, quick=design.mode == "quick")


def run_config(design: Design, width: int, batch: int | None, optimizer: str, lr: float, seed: int,
               store_path: str | None = None) -> RunConfig:
    """The config of one run, exactly as the sweep trains it (so run ids agree)."""
    overrides = [*design.overrides, *_arm(optimizer, lr), f"model.width={width}",
                 f"train.batch_size={'null' if batch is None else batch}", f"train.seeds=[{seed}]"]
    if store_path:
        overrides.append(f"store.path={store_path}")
    cfg = load_config(None, overrides)
    cfg.name = f"muon-width-batch/d{width}/b{'full' if batch is None else batch}/{optimizer}"
    return cfg


def arms(design: Design) -> list[tuple[str, float]]:
    return [(o, lr) for o in OPTIMIZERS for lr in design.lrs[o]]


def sweep_spec(design: Design, store_path: str | None = None) -> SweepSpec:
    """Width × batch as axes; every (optimizer, lr) arm zipped, its optim section taken from `run_config`."""
    optim = [run_config(design, design.widths[0], design.batches[0], o, lr, 0).optim.model_dump(mode="json")
             for o, lr in arms(design)]
    varying = [k for k in optim[0] if any(o[k] != optim[0][k] for o in optim)]
    base_cfg = run_config(design, design.widths[0], design.batches[0], *arms(design)[0], 0, store_path)
    skip = {"train.seeds", "store.path", "model.width", "train.batch_size"}
    base = {f"{section}.{k}": v for section, values in base_cfg.model_dump(mode="json", exclude={"name"}).items()
            for k, v in values.items() if f"{section}.{k}" not in skip and not (section == "optim" and k in varying)}
    return spec_from_dict({
        "name": f"muon-width-batch-{design.mode}",
        "base": base,
        "axes": {"model.width": list(design.widths), "train.batch_size": list(design.batches)},
        "zip": {f"optim.{k}": [o[k] for o in optim] for k in varying},
        "seeds": list(design.seeds),
    })


def run_ids(design: Design, store_path: str | None = None) -> dict:
    """(width, batch, optimizer, lr, seed) -> run id."""
    out = {}
    for w in design.widths:
        for b in design.batches:
            for o, lr in arms(design):
                for s in design.seeds:
                    out[(w, b, o, lr, s)] = plan_members(run_config(design, w, b, o, lr, s, store_path))[1][0]
    return out


def run_grid(ctx: Context, design: Design, store: Store, workers: int | None, stored_only: bool) -> pd.DataFrame:
    ids = run_ids(design, ctx.store_path)
    done = set(store.completed(list(ids.values())))
    missing = [k for k, r in ids.items() if r not in done]
    if missing and stored_only:
        raise GroklabError(f"--stored-only: {len(missing)} of the {len(ids)} runs of this design are not complete "
                           "in this store; run without --stored-only to train them")
    if missing:
        train_sweep(ctx, sweep_spec(design, ctx.store_path), quick=design.mode == "quick", workers=workers)
    rows = []
    for (w, b, o, lr, s), run_id in ids.items():
        summary = store.run(run_id)["summary"]
        observed = summary["diverged_epoch"] if summary.get("diverged") else summary.get("epochs", design.epochs)
        rows.append({"width": w, "batch": "full" if b is None else str(b), "optimizer": o, "lr": lr, "seed": s,
                     "run_id": run_id, "grok_epoch": summary["grok_epoch"],
                     "sustained_grok_epoch": summary["sustained_grok_epoch"], "censored": bool(summary["censored"]),
                     "diverged": bool(summary.get("diverged", False)), "best_test_acc": summary.get("best_test_acc"),
                     "observed_until": int(observed)})
    return pd.DataFrame(rows)


def run(ctx: Context) -> list[Verdict]:
    design = make_design(ctx.quick, ctx.seeds)
    ctx.echo(f"Muon vs AdamW across width × batch ({design.describe()})")
    store = Store(ctx.store_path)
    runs = run_grid(ctx, design, store, ctx.workers, ctx.stored_only)
    result = analyse(runs, select_seed=SELECT_SEED, budget=design.epochs)
    for c in result["cells"]:
        ctx.echo(f"  d={c['width']:<4} B={c['batch']:<5} lr AdamW {c['lr']['adamw']:g}, Muon {c['lr']['muon']:g}: "
                 f"KM median AdamW {c['median_label']['adamw']}, Muon {c['median_label']['muon']}; "
                 f"Muon − AdamW {c['diff_label']}; log-rank p {c['logrank_p']:.3g} (Holm {c['holm_p']:.3g})")
    heatmap_figure(result, title=f"Muon − AdamW median grok epoch ({design.describe()})").savefig(
        ctx.figure_path("width_batch_heatmap"))
    survival_figure(result, budget=design.epochs).savefig(ctx.figure_path("width_batch_kaplan_meier"))
    ctx.extra.update({
        "settings": {"design": design.describe(), "mode": design.mode, "widths": list(design.widths),
                     "batches": ["full" if b is None else b for b in design.batches],
                     "lrs": {k: list(v) for k, v in design.lrs.items()}, "seeds": list(design.seeds),
                     "select_seed": SELECT_SEED, "overrides": list(design.overrides), "adamw": _ADAMW, "muon": _MUON},
        "runs": runs.astype(object).where(runs.notna(), None).to_dict("records"),
        **result,
    })
    return verdicts(result, design.describe())
