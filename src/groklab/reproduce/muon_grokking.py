"""`groklab reproduce muon-grokking`: does Muon grok sooner than AdamW? (Tveit et al., arXiv 2504.16041)

The grid is tasks × output variants × {AdamW, Muon} × seeds. A cell (task, output, optimizer) is one
ensemble whose members are the seeds; both optimizers get the same seeds, hence the same splits and
initialisations. Every cell goes through `train()`, so results live in the store and a re-run trains
only the seeds the store lacks (an interrupted cell resumes from its last checkpoint).

Settings (docs/reproductions.md#muon-grokking; the paper states no sizes, learning rates or weight decay):
- full (the six-task design, fixed before any of its runs): the six tasks at the paper's split fractions
  (gcd .5, add .8, div .8, exp .7, mul .5, parity .5; parity 10-bit), p = 97, random split per seed; the base
  code's transformer (depth 2, width 128, 1 head, SwiGLU 4×, pre-RMSNorm, dropout 0.2, causal, RoPE base 1e6
  on the sequence axis); batch 512; a 500-epoch budget (runs still training there are censored), test
  accuracy every epoch; seeds 0–2 (``--seeds N`` extends to 0..N-1: more seeds, the same design).
  AdamW: lr 1e-3, betas (0.9, 0.98), wd 1.0 (base code). Muon: torch variant (momentum 0.95, Nesterov,
  5 Newton–Schulz steps, Keller's √max(1, A/B) scaling) at lr 0.02 on the hidden matrices; AdamW
  with the baseline's settings on the embedding, head and gains; the same wd 1.0 in both groups (the
  paper's "equivalent strength"). Newton–Schulz runs in float32 (torch's bf16 is a GPU speed choice;
  on CPUs without bf16 matrix units it is 5–10× slower, and float32 is the more exact orthogonalisation).
  The primary verdict pools every task, output and seed run: log-rank with censoring (one-sided, Muon
  ahead) and the paired sign test over (task, output, seed).
- medium (``--medium``): the same runs on add and mul only. Its history makes it no evidence on its own:
  add with div ran first (Muon not sooner; Muon × stablemax never groks on div within 500 epochs), and mul
  replaced div after a seed-0 probe had shown Muon ahead on it. Its run ids are full-mode run ids.
- quick (CI, a couple of minutes on two CPU cores): add and mul mod 23, width 32, depth 1, no dropout,
  full batch, 200 epochs, 3 seeds; AdamW lr 1e-2 in both arms (at 1e-3 the tiny full-batch model does
  not even memorise within 200 epochs, at 1e-2 both arms grok on add and mostly not on mul). It exercises
  every output variant, both optimizers, censoring and every statistic; its numbers are a smoke test,
  not evidence.

Every run stops once its grok is confirmed (``train.stop=sustained``): the grok and sustained grok epochs
are decided by then, so stopping changes no statistic (tested). The eval-mode pass over the training set
(series ``train_acc_eval``, read by nothing the verdicts use) runs every 10 epochs. The grid runs as a
sweep: cells are ensembles of seeds, trained by ``--workers`` processes (default: one per core; on CUDA
``GPU_WORKERS`` processes sharing the one device, at most the cores less two; quick: in this process).
Newton–Schulz runs in float32 on every device, CUDA included: torch's bfloat16 default there would make the
numbers, and so the run ids, depend on the device (docs/gpu.md).

Grok epoch: the first evaluation with test accuracy ≥ 0.95 once train accuracy has been ≥ 0.99 for 5
evaluations; sustained: the first such epoch after which test accuracy stays ≥ 0.95 for 10 more
evaluations (see groklab.train.grokking). A run that never groks is censored at the last epoch it was
observed: counted, excluded from means and location tests, and handled by Kaplan–Meier and log-rank.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Callable, Sequence

import pandas as pd

from groklab.config import RunConfig, load_config
from groklab.errors import GroklabError, closest
from groklab.report import stats
from groklab.report.plots_sweep import box_panels_figure, survival_panels_figure
from groklab.reproduce import Context, Verdict
from groklab.reproduce.grid_runs import (GPU_WORKERS, check_store_design, default_workers, estimate_sweep,  # noqa: F401
                                         train_sweep)
from groklab.reproduce.muon_grokking_stats import (LABELS, OPTIMIZERS, PAPER_NOTE, PERMUTATIONS, analyse, fmt,
                                                   group_times, jsonable, verdicts)
from groklab.store import Store
from groklab.sweep.spec import SweepSpec, spec_from_dict
from groklab.train.loop import plan_members

CLAIM = ("Muon reaches the grokking threshold in fewer epochs than AdamW, pooled over tasks and output "
         "variants (Tveit et al. 2025: 102.89 vs 153.09 epochs)")

TASKS = ("gcd", "add", "div", "exp", "mul", "parity")
TAKES_TASKS = True  # --tasks
TAKES_WORKERS = True  # --workers
TAKES_STORED_ONLY = True  # --stored-only
OUTPUTS = ("ce", "stablemax", "sparsemax")

_ADAMW = ["optim.kind=adamw", "optim.betas=[0.9,0.98]", "optim.eps=1e-8"]
_MUON = ["optim.kind=muon", "optim.muon_routing=hidden", "optim.muon_variant=torch", "optim.muon_lr=0.02",
         "optim.muon_momentum=0.95", "optim.nesterov=true", "optim.ns_steps=5", "optim.adjust_lr_fn=original",
         "optim.ns_dtype=float32"]
_COMMON = ["task.split=random", "model.kind=transformer", "model.heads=1", "model.rope=sequence", "model.rope_base=1e6",
           "optim.weight_decay=1.0", "train.checkpoint_dense_until=0", "train.eval_every=1",
           "train.memorize_acc=0.99", "train.grok_acc=0.95", "train.stable_evals=5", "train.sustain_evals=10",
           "train.stop=sustained"]
# The six-task design was fixed before any of its runs: the paper's model and split fractions, 3 seeds
# (`--seeds N` extends), a 500-epoch budget, runs stopping at their confirmed grok (docs/reproductions.md).
FULL = ["task.modulus=97", "model.width=128", "model.depth=2", "model.dropout=0.2", "train.batch_size=512",
        "optim.lr=1e-3", "train.epochs=500", "train.snapshot_every=50",
        "train.train_eval_every=10"]
MEDIUM = FULL  # the same runs on fewer tasks: every medium run id is a full-mode run id
MEDIUM_TASKS = ("add", "mul")  # chosen after a probe (see the module docstring): not evidence on its own
QUICK = ["task.modulus=23", "model.width=32", "model.depth=1", "model.dropout=0", "optim.lr=1e-2",
         "train.epochs=200", "train.checkpoint_every=200"]

SEVEN_TASKS_NOTE = ("The paper's abstract says seven tasks; its Fig. 2 and text list six (gcd, add, div, exp, mul, "
                    "parity) and no seventh is named anywhere, so this reproduction uses the six.")


MODES = ("quick", "medium", "full")


@dataclass(frozen=True)
class Grid:
    mode: str
    tasks: tuple[str, ...]
    seeds: tuple[int, ...]
    overrides: tuple[str, ...]

    @property
    def quick(self) -> bool:
        return self.mode == "quick"

    @property
    def epochs(self) -> int:
        return int(next(o for o in self.overrides if o.startswith("train.epochs=")).split("=")[1])

    def describe(self) -> str:
        mod = next(o for o in self.overrides if o.startswith("task.modulus=")).split("=")[1]
        return (f"{self.mode}: {len(self.tasks)} tasks ({', '.join(self.tasks)}) × "
                f"{len(OUTPUTS)} outputs × AdamW/Muon × {len(self.seeds)} seeds, p = {mod}, {self.epochs} epochs")


def make_grid(quick: bool = False, seeds: int | None = None, *, medium: bool = False,
              tasks: Sequence[str] | None = None) -> Grid:
    if quick and medium:
        raise GroklabError("--quick and --medium are two different grids; give one of them")
    mode = "quick" if quick else "medium" if medium else "full"
    n = seeds if seeds is not None else 3
    if n < 1:
        raise GroklabError(f"--seeds must be >= 1, got {n}")
    default_tasks = {"quick": ("add", "mul"), "medium": MEDIUM_TASKS, "full": TASKS}[mode]
    chosen = tuple(tasks) if tasks else default_tasks
    for task in chosen:
        if task not in TASKS:
            hint = closest(task, TASKS)
            raise GroklabError(f"unknown task {task!r} in --tasks" + (f" (did you mean {hint!r}?)" if hint else "")
                               + f"; the tasks are {', '.join(TASKS)}")
    if len(set(chosen)) != len(chosen):
        raise GroklabError(f"--tasks lists a task twice: {', '.join(chosen)}")
    settings = {"quick": QUICK, "medium": MEDIUM, "full": FULL}[mode]
    return Grid(mode, chosen, tuple(range(n)), tuple(_COMMON + settings))


def check_options(*, quick: bool, medium: bool, seeds: int | None, tasks: Sequence[str] | None) -> None:
    make_grid(quick, seeds, medium=medium, tasks=tasks)


def check_store(store_path: str, *, quick: bool, medium: bool, seeds: int | None, tasks) -> None:
    grid = make_grid(quick, seeds, medium=medium, tasks=tasks)
    check_store_design(Store(store_path), "muon-grokking-", _grid_run_id(grid, store_path), grid.describe())


def _arm(optimizer: str) -> list[str]:
    return _ADAMW if optimizer == "adamw" else _MUON


def cell_config(grid: Grid, task: str, output: str, optimizer: str, seeds=None, store_path: str | None = None) -> RunConfig:
    """The ensemble config of one cell (members = `seeds`, default the grid's)."""
    seeds = grid.seeds if seeds is None else seeds
    overrides = [*grid.overrides, *_arm(optimizer), f"task.op={task}",
                 f"loss.kind={output}", "train.seeds=[" + ",".join(map(str, seeds)) + "]"]
    if store_path:
        overrides.append(f"store.path={store_path}")
    cfg = load_config(None, overrides)
    cfg.name = f"muon-grokking/{task}/{output}/{optimizer}"
    return cfg


def sweep_spec(grid: Grid, store_path: str | None = None) -> SweepSpec:
    """The grid as one sweep: axes task × output, the optimizer arms zipped, the grid's seeds.

    Each run's config equals its cell's (`cell_config`), so run ids agree with cells trained alone.
    """
    arms = {o: {k: v for k, v in (cell_config(grid, "add", "ce", o).optim.model_dump(mode="json")).items()}
            for o in OPTIMIZERS}
    varying = [k for k in arms["adamw"] if arms["adamw"][k] != arms["muon"][k]]
    base = load_config(None, list(grid.overrides) + ([f"store.path={store_path}"] if store_path else []))
    return spec_from_dict({
        "name": f"muon-grokking-{grid.mode}",
        "base": {f"{section}.{k}": v for section, values in base.model_dump(mode="json", exclude={"name"}).items()
                 for k, v in values.items() if f"{section}.{k}" not in ("train.seeds", "store.path")
                 and not (section == "optim" and k in varying)},
        "axes": {"task.op": list(grid.tasks), "loss.kind": list(OUTPUTS)},
        "zip": {f"optim.{k}": [arms[o][k] for o in OPTIMIZERS] for k in varying},
        "seeds": list(grid.seeds),
    })


def run_grid(ctx: Context, grid: Grid, store: Store, workers: int | None = None,
             stored_only: bool = False) -> pd.DataFrame:
    """Train every run the store lacks (as one sweep) and return one row per run (from the store's summaries).

    workers: processes training cells at once (0: this process; None: quick 0, else `default_workers`).
    stored_only: train nothing; keep the (task, output) pairs whose AdamW and Muon cells are complete for
    every seed (so the comparison stays seed-matched) and say which pairs are left out.
    """
    cells = [(t, o, opt) for t in grid.tasks for o in OUTPUTS for opt in OPTIMIZERS]
    ids = {cell: plan_members(cell_config(grid, *cell, store_path=ctx.store_path))[1] for cell in cells}
    missing = {cell: [s for s, r in zip(grid.seeds, run_ids) if r not in store.completed(run_ids)]
               for cell, run_ids in ids.items()}
    if stored_only:
        incomplete = {(t, o) for (t, o, _), seeds in missing.items() if seeds}
        if incomplete:
            ctx.echo("left out (not complete in the store): " + ", ".join(f"{t}/{o}" for t, o in sorted(incomplete)))
        cells = [c for c in cells if c[:2] not in incomplete]
        if not cells:
            raise GroklabError("--stored-only: no (task, output) pair has all its runs complete in this store; "
                               "run without --stored-only to train them")
        missing = {c: [] for c in cells}
    if any(missing.values()):
        train_sweep(ctx, sweep_spec(grid, ctx.store_path), quick=grid.quick, workers=workers)
    rows = []
    for i, cell in enumerate(cells, 1):
        task, output, optimizer = cell
        cell_rows = [_run_row(task, output, optimizer, seed, run_id, store.run(run_id)["summary"], grid.epochs)
                     for seed, run_id in zip(grid.seeds, ids[cell])]
        rows += cell_rows
        grokked = [r["grok_epoch"] for r in cell_rows if r["grok_epoch"] is not None]
        trained = len(missing[cell])
        ctx.echo(f"[{i:>2}/{len(cells)}] {task:<6} {output:<9} {LABELS[optimizer]:<5} "
                 f"{'trained ' + str(trained) if trained else 'stored':<10} grokked {len(grokked)}/{len(cell_rows)}"
                 + (f", epochs {sorted(grokked)}" if grokked else ""))
    return pd.DataFrame(rows)


def _grid_run_id(grid: Grid, store_path: str | None) -> Callable[[dict, int], str | None]:
    def run_id_of(config: dict, seed: int) -> str | None:
        task, output = config.get("task", {}).get("op"), config.get("loss", {}).get("kind")
        optimizer = config.get("optim", {}).get("kind")
        if task not in TASKS or output not in OUTPUTS or optimizer not in OPTIMIZERS:
            return None
        return plan_members(cell_config(grid, task, output, optimizer, seeds=[seed], store_path=store_path))[1][0]
    return run_id_of


def estimate(ctx: Context) -> dict:
    """The grid's run time on this machine, projected from a few timed ensembles (nothing is written)."""
    grid = make_grid(ctx.quick, ctx.seeds, medium=ctx.medium, tasks=ctx.tasks)
    return estimate_sweep(sweep_spec(grid, ctx.store_path), ctx, quick=grid.quick)


def _run_row(task, output, optimizer, seed, run_id, summary: dict, budget: int) -> dict:
    # a run stopped at its confirmed grok is never censored; one that never grokked ran to the budget
    observed = summary["diverged_epoch"] if summary.get("diverged") else summary.get("epochs", budget)
    return {
        "task": task, "output": output, "optimizer": optimizer, "seed": int(seed), "run_id": run_id,
        "grok_epoch": summary["grok_epoch"], "sustained_grok_epoch": summary["sustained_grok_epoch"],
        "censored": bool(summary["censored"]), "sustained_censored": bool(summary["sustained_censored"]),
        "collapsed": bool(summary["collapsed"]), "diverged": bool(summary.get("diverged", False)),
        "memorization_epoch": summary.get("memorization_epoch"), "best_test_acc": summary.get("best_test_acc"),
        "observed_until": int(observed), "budget": int(budget),
    }


# -- figures and the report -----------------------------------------------------------------------

def figures(ctx: Context, runs: pd.DataFrame, grid: Grid) -> None:
    def groups(df, metric, by):
        vals = {k: g[metric].dropna().astype(float).tolist() for k, g in df.groupby(by, sort=False)}
        cens = {k: int(g[metric].isna().sum()) for k, g in df.groupby(by, sort=False)}
        return vals, cens

    labelled = runs.assign(opt=runs.optimizer.map(LABELS))
    # pooled boxes mix outputs whose grok epochs differ several-fold (bimodal), so every panel splits by output
    panels = [("pooled, by output", *groups(labelled.assign(label=labelled.output + "/" + labelled.opt),
                                            "grok_epoch", "label"))]
    for output in OUTPUTS:
        part = labelled[labelled.output == output]
        panels.append((f"{output}, per task", *groups(part.assign(label=part.task + "/" + part.opt), "grok_epoch",
                                                      "label")))
    box_panels_figure(panels, title=f"Grok epochs, AdamW vs Muon, first crossing ({grid.describe()}); "
                                    "numbers under the boxes: censored runs",
                      width_ratios=[2] + [max(2, len(grid.tasks))] * len(OUTPUTS)).savefig(
        ctx.figure_path("fig4_boxplot"))
    km_panels = []
    for metric, title in (("grok_epoch", "pooled, first crossing"), ("sustained_grok_epoch", "pooled, sustained")):
        km_panels.append((title, {LABELS[o]: stats.kaplan_meier(*group_times(runs[runs.optimizer == o], metric))
                                  for o in OPTIMIZERS}))
    survival_panels_figure(km_panels, title="Kaplan–Meier: fraction of runs not yet grokked",
                           budget=grid.epochs).savefig(ctx.figure_path("kaplan_meier"))
    task_panels = [(task, {LABELS[o]: stats.kaplan_meier(*group_times(runs[(runs.task == task) & (runs.optimizer == o)],
                                                                        "grok_epoch")) for o in OPTIMIZERS})
                   for task in grid.tasks if (runs.task == task).any()]
    survival_panels_figure(task_panels, title="Kaplan–Meier per task (first crossing; all outputs and seeds)",
                           budget=grid.epochs, ncols=min(3, len(task_panels))).savefig(
        ctx.figure_path("kaplan_meier_tasks"))


def echo_report(ctx: Context, result: dict) -> None:
    ctx.echo("\nper cell (grokked/n, censored, mean, median, IQR of grok epochs; collapsed):")
    for c in result["cells"]:
        g = c["grok"]
        ctx.echo(f"  {c['task']:<6} {c['output']:<9} {LABELS[c['optimizer']]:<5} {g['grokked']}/{g['n']} cens {g['censored']}  "
                 f"mean {fmt(g['mean'])}  median {fmt(g['median'])}  IQR {fmt(g['iqr'])}  collapsed {c['collapsed']}")
    ctx.echo("per task (log-rank, Holm over tasks; KM median AdamW / Muon):")
    for r in result["per_task"]:
        ctx.echo(f"  {r['task']:<6} p {r['logrank_p']:.3g} (Holm {r['holm_p']:.3g}), "
                 f"{'Muon' if r['muon_ahead'] else 'AdamW'} ahead; KM median {fmt(r['km_median']['adamw'])} / "
                 f"{fmt(r['km_median']['muon'])}; grokked {r['grokked']['adamw']}/{r['n']['adamw']} / "
                 f"{r['grokked']['muon']}/{r['n']['muon']}")
    ctx.echo("pooled:                 ours (first crossing / sustained)            paper")
    for opt, paper_mean in (("adamw", stats.PAPER["adamw_mean"]), ("muon", stats.PAPER["muon_mean"])):
        p = result["pooled"][opt]
        ctx.echo(f"  {LABELS[opt]:<5} mean grok epoch  {fmt(p['grok']['mean']):>7} / {fmt(p['sustained']['mean']):<7} "
                 f"(n {p['grok']['n']}, censored {p['grok']['censored']} / {p['sustained']['censored']}, "
                 f"collapsed {p['collapsed']})   {paper_mean}")
    t = result["tests"]
    ctx.echo(f"  Student t {fmt(t['student']['t'], '.3f')} (p {fmt(t['student']['p'], '.3g')}), Welch t "
             f"{fmt(t['welch']['t'], '.3f')} (p {fmt(t['welch']['p'], '.3g')}), Mann-Whitney U {fmt(t['mann_whitney']['U'], '.0f')} "
             f"(p {fmt(t['mann_whitney']['p'], '.3g')}), log-rank chi2 {fmt(t['logrank']['chi2'], '.3f')} "
             f"(p {fmt(t['logrank']['p'], '.3g')}); paper t = 5.0175, p = 6.33e-8")
    b = t["bootstrap_mean_diff"]
    ctx.echo(f"  AdamW − Muon mean: {fmt(b['diff'])} epochs, 95% bootstrap CI [{fmt(b['low'])}, {fmt(b['high'])}]")
    if result.get("control"):
        c = result["control"]
        ctx.echo(f"negative control: optimizer labels permuted within (task, output, seed) pairs, "
                 f"{c['permutations']} times: log-rank verdict passes in {c['logrank_pass_rate']:.1%}, sign test in "
                 f"{c['sign_pass_rate']:.1%} (each must be about 5 % or less)")
    ctx.echo(f"note: {PAPER_NOTE}\nnote: {SEVEN_TASKS_NOTE}")


def _public_row(row: dict, keys: list[str]) -> dict:
    out = {k: row[k] for k in keys}
    for k in ("grok_epoch", "sustained_grok_epoch"):  # pandas turned them into floats with NaN
        out[k] = None if out[k] is None or pd.isna(out[k]) else int(out[k])
    return out


def run(ctx: Context) -> list[Verdict]:
    grid = make_grid(ctx.quick, ctx.seeds, medium=ctx.medium, tasks=ctx.tasks)
    ctx.echo(f"Muon vs AdamW grokking ({grid.describe()})")
    store = Store(ctx.store_path)
    runs = run_grid(ctx, grid, store, ctx.workers, stored_only=ctx.stored_only)
    if ctx.stored_only:  # figures and verdicts describe the tasks analysed, not the whole grid
        grid = dataclasses.replace(grid, tasks=tuple(t for t in grid.tasks if t in set(runs.task)))
    result = analyse(runs, permutations=200 if grid.quick else PERMUTATIONS)
    figures(ctx, runs, grid)
    echo_report(ctx, result)
    public = ["task", "output", "optimizer", "seed", "grok_epoch", "sustained_grok_epoch", "censored", "collapsed",
              "sustained_censored", "diverged", "observed_until", "run_id"]
    ctx.extra.update(jsonable({
        "settings": {"grid": grid.describe(), "mode": grid.mode, "stored_only": ctx.stored_only,
                     "cells_analysed": sorted({f"{t}/{o}" for t, o in zip(runs.task, runs.output)}), "tasks": list(grid.tasks), "outputs": list(OUTPUTS),
                     "optimizers": list(OPTIMIZERS), "seeds": list(grid.seeds), "overrides": list(grid.overrides),
                     "adamw": _ADAMW, "muon": _MUON},
        "runs": [_public_row(r, public) for r in runs.to_dict("records")],
        **result,
        "paper": {**stats.PAPER, "p_check": stats.paper_p_check(), "note": PAPER_NOTE},
        "notes": [SEVEN_TASKS_NOTE,
                  "censored runs (no grok epoch within the budget) are counted and passed to Kaplan-Meier and "
                  "log-rank as censored; they are never given the budget as a grok epoch",
                  "t-tests, Mann-Whitney U and the bootstrap compare grokked runs only",
                  "runs stop once their grok is confirmed (train.stop=sustained); this changes no grok epoch and no "
                  "test statistic; 'collapsed' counts only collapses seen before a run stopped",
                  *(["quick mode: a reduced grid that exercises the pipeline; its numbers are not evidence"]
                    if grid.quick else [])],
    }))
    return verdicts(result, grid.describe())
