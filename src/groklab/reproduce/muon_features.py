"""`groklab reproduce muon-features`: do Muon's transformers acquire their irrep features sooner than AdamW's?

Li2 explains Muon's advantage as better coverage of the group's irreps; the Muon paper measures earlier
grokking in transformers but offers no mechanism. This reproduction trains both optimizers with the
transformer feature hook (`features.every`, docs/transformer-features.md) on (a) a modular task, which is
the cyclic group Z_p, and (b) composition in a non-abelian group, and reads from the stored series:

- acquisition epoch: the first logged epoch at which the last block's FFN neurons cover as many irreps as
  they do at the end (`transformer_features.acquisition_epoch`);
- coverage speed: the mean, over the logged epochs of the task (0 up to the last epoch any of its runs
  logged), of the fraction of non-trivial irreps covered (the area under the coverage curve: larger when
  more irreps are covered sooner); a run that stopped at its confirmed grok keeps its last coverage;
- the grok epoch (first test accuracy ≥ 0.95 after train accuracy has settled; censored runs never count);
- after grokking, the restricted and excluded test loss against the full loss.

Settings (docs/reproductions.md#muon-features):
- full: add mod 97 with the Muon paper's model (width 128, depth 2, dropout 0.2, batch 512, AdamW lr 1e-3
  wd 1, train fraction 0.8; features every 5 epochs, since it groks within ~30) and composition in A5 (train
  fraction 0.5, features every 10), 4 seeds, a 400-epoch budget; runs stop once their grok is confirmed
  (`train.stop=sustained`), as in muon-grokking, whose Muon settings (float32 Newton–Schulz) it shares.
- quick (CI): add mod 31 (train fraction 0.7) and composition in S4 (0.8), a one-block width-64 transformer, full
  batch, lr 1e-2, wd 1, 300 epochs, 2 seeds, features every 10 epochs. Muon: the torch variant at muon_lr 0.02 on the hidden matrices,
  AdamW (lr as the baseline) on embedding, head and gains, the same weight decay. Its numbers are a smoke test.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from groklab.config import RunConfig, load_config
from groklab.li2.transformer_features import LOSS_KEY_CAP, acquisition_epoch
from groklab.report.plots_features import optimizer_features_figure
from groklab.reproduce import Context, Verdict
from groklab.store import Store
from groklab.train.loop import train

CLAIM = ("Muon's transformers acquire their key irreps sooner and cover more of them than AdamW's, and the "
         "features arrive before the test-accuracy jump (Li2's mechanism for the Muon paper's speed-up)")

OPTIMIZERS = {"adamw": ["optim.kind=adamw", "optim.betas=[0.9,0.98]"],
              "muon": ["optim.kind=muon", "optim.muon_routing=hidden", "optim.muon_variant=torch", "optim.muon_lr=0.02",
                       "optim.betas=[0.9,0.98]"]}
LABELS = {"adamw": "AdamW", "muon": "Muon"}
COMMON = ["model.kind=transformer", "loss.kind=ce", "task.split=random", "train.checkpoint_dense_until=0",
          "train.progress=false"]
QUICK = {"tasks": {"add mod 31": ["task.op=add", "task.modulus=31", "task.train_fraction=0.7"],
                   "S4": ["task.op=compose", "task.group=S4", "task.train_fraction=0.8"]},
         "model": ["model.width=64", "model.depth=1", "model.heads=4", "model.dropout=0", "train.batch_size=null",
                   "optim.lr=1e-2", "optim.weight_decay=1.0", "train.epochs=300", "train.eval_every=5",
                   "train.checkpoint_every=300", "features.every=10"],
         "seeds": 2}
FULL = {"tasks": {"add mod 97": ["task.op=add", "task.modulus=97", "task.train_fraction=0.8", "features.every=5"],
                  "A5": ["task.op=compose", "task.group=A5", "task.train_fraction=0.5", "features.every=10"]},
        "model": ["model.width=128", "model.depth=2", "model.heads=1", "model.dropout=0.2", "train.batch_size=512",
                  "optim.lr=1e-3", "optim.weight_decay=1.0", "train.epochs=400", "train.eval_every=1",
                  "train.stop=sustained", "train.train_eval_every=10", "train.snapshot_every=50",
                  "optim.ns_dtype=float32"],  # Muon's Newton-Schulz in float32, as muon-grokking (bf16 is slow on CPU)
        "seeds": 4}


def cell_config(ctx: Context, settings: dict, task: str, optimizer: str) -> RunConfig:
    seeds = ctx.seeds if ctx.seeds is not None else settings["seeds"]
    cfg = load_config(None, [*COMMON, *settings["model"], *settings["tasks"][task], *OPTIMIZERS[optimizer],
                             "train.seeds=[" + ",".join(map(str, range(seeds))) + "]", f"store.path={ctx.store_path}"])
    cfg.name = f"muon-features/{task}/{optimizer}"
    return cfg


def measure(store: Store, results: list[dict], cfg: RunConfig, task: str, optimizer: str) -> list[dict]:
    """One row per run: grok epoch, acquisition epoch, coverage speed, final losses."""
    from groklab.li2.hook import task_group
    from groklab.li2.transformer_features import irrep_labels

    irreps = len(irrep_labels(task_group(cfg))) - 1
    series = store.series([r["run_id"] for r in results])
    rows = []
    for r in results:
        wide = series[series["run_id"] == r["run_id"]].pivot(index="epoch", columns="key", values="value").sort_index()
        covered = wide["features.covered"].dropna()
        last = wide.iloc[-1]
        rows.append(dict(task=task, optimizer=optimizer, run_id=r["run_id"], seed=r["seed"], grok_epoch=r["grok_epoch"],
                         acquisition_epoch=acquisition_epoch(covered.index.to_numpy(), covered.to_numpy()),
                         covered_final=int(covered.iloc[-1]), irreps=irreps, coverage=covered / irreps,
                         key_count_final=int(last["features.key_count"]),
                         loss_key_count=int(last["features.loss_key_count"]) if "features.loss_key_count" in last else None,
                         loss_test=float(last["features.loss_test"]),
                         restricted_test=float(last["features.restricted_loss_test"]),
                         excluded_test=float(last["features.excluded_loss_test"])))
    return rows


KEY_CAP = LOSS_KEY_CAP  # a loss key set holding more of the non-trivial irreps: restricted/excluded uninformative
PROGRESS = 0.5  # matched progress: coverage at this fraction of each run's own grok epoch


def coverage_at_progress(coverage: pd.Series, grok_epoch, fraction: float = PROGRESS) -> float:
    """A run's covered fraction at the last logged epoch ≤ fraction × its grok epoch (NaN if it never grokked):
    coverage at matched progress, so a run that groks sooner is not credited for being further along."""
    if grok_epoch is None or not np.isfinite(float(grok_epoch)):
        return float("nan")
    logged = coverage[coverage.index <= fraction * float(grok_epoch)]
    return float(logged.iloc[-1]) if len(logged) else 0.0


def coverage_speed(runs: pd.DataFrame) -> pd.DataFrame:
    """Each run's mean covered fraction over its task's logged epochs (0 .. the last any run logged), its
    last value carried forward once it stopped; replaces the per-run `coverage` series by `coverage_speed`."""
    speeds = []
    for task, group in runs.groupby("task", sort=False):
        horizon = sorted(set().union(*(set(c.index) for c in group["coverage"])))
        for i, c in group["coverage"].items():
            speeds.append((i, float(c.reindex(horizon).ffill().fillna(0.0).mean())))
    out = runs.drop(columns="coverage")
    out["coverage_speed"] = pd.Series(dict(speeds))
    out["coverage_at_progress"] = [coverage_at_progress(c, g) for c, g in zip(runs["coverage"], runs["grok_epoch"])]
    out["coverage_series"] = [{int(e): round(float(v), 4) for e, v in c.items()} for c in runs["coverage"]]
    return out


def verdicts(runs: pd.DataFrame, budget: int) -> list[Verdict]:
    out = []
    grokked = runs[runs["grok_epoch"].notna()]
    before = grokked[grokked["acquisition_epoch"].notna() & (grokked["acquisition_epoch"] <= grokked["grok_epoch"])]
    out.append(Verdict("features are acquired before the test-accuracy jump",
                       "acquisition epoch (neurons reach their final irrep coverage) ≤ grok epoch, grokked runs",
                       f"{len(before)}/{len(grokked)} runs", "≥ 80 % of grokked runs",
                       len(grokked) > 0 and len(before) >= 0.8 * len(grokked)))
    per_task = runs.groupby(["task", "optimizer"])
    speed = per_task["coverage_speed"].mean().unstack()
    final = per_task["covered_final"].mean().unstack()
    out.append(Verdict("Muon covers more irreps sooner (Li2's explanation)",
                       "mean fraction of irreps covered over the logged epochs, per task",
                       {t: {LABELS[o]: round(float(speed.loc[t, o]), 3) for o in speed.columns} | {
                           "final covered": {LABELS[o]: float(final.loc[t, o]) for o in final.columns}} for t in speed.index},
                       "Muon > AdamW in every task", bool((speed["muon"] > speed["adamw"]).all())))
    out.append(matched_progress_verdict(runs))
    medians = per_task["grok_epoch"].apply(lambda g: float(np.median(g.fillna(np.inf)))).unstack()
    counts = per_task["grok_epoch"].apply(lambda g: f"{int(g.notna().sum())}/{len(g)}").unstack()
    # a task where no run of either optimizer grokked says nothing about which is sooner: left out of the test
    decided = medians[np.isfinite(medians).any(axis=1)]
    out.append(Verdict("Muon groks sooner (the Muon paper)",
                       f"median grok epoch (censored at {budget} count as never), grokked/runs; tasks where a run grokked",
                       {t: {LABELS[o]: (None if not np.isfinite(medians.loc[t, o]) else float(medians.loc[t, o]),
                                        counts.loc[t, o]) for o in medians.columns} for t in medians.index},
                       "Muon ≤ AdamW in every such task",
                       len(decided) > 0 and bool((decided["muon"] <= decided["adamw"]).all())))
    out.append(key_irreps_verdict(grokked))
    return out


def matched_progress_verdict(runs: pd.DataFrame) -> Verdict:
    """Muon vs AdamW coverage at the same fraction of each run's own grok epoch (grokked runs): the raw
    comparison credits an optimizer that simply learns faster; this one does not."""
    claim = f"Muon covers more irreps at matched progress ({PROGRESS:g} of each run's grok epoch)"
    setting = "mean covered fraction at the last logged epoch ≤ fraction × grok epoch, grokked runs, per task"
    if "coverage_at_progress" not in runs:
        return Verdict(claim, setting, {}, "Muon > AdamW in every task where both grokked", None,
                       "the runs' coverage series are not stored: progress cannot be matched")
    grokked = runs[runs["coverage_at_progress"].notna()]
    mean = grokked.groupby(["task", "optimizer"])["coverage_at_progress"].mean().unstack()
    both = mean.dropna() if {"muon", "adamw"} <= set(mean.columns) else mean.iloc[:0]
    measured = {t: {LABELS[o]: (None if pd.isna(mean.loc[t, o]) else round(float(mean.loc[t, o]), 3))
                    for o in mean.columns} for t in mean.index}
    if both.empty:
        return Verdict(claim, setting, measured, "Muon > AdamW in every task where both grokked", None,
                       "no task where runs of both optimizers grokked: progress cannot be matched")
    return Verdict(claim, setting, measured | {"compared": list(both.index)},
                   "Muon > AdamW in every task where both grokked", bool((both["muon"] > both["adamw"]).all()))


def key_irreps_verdict(grokked: pd.DataFrame) -> Verdict:
    """Restricted/excluded test loss on the grokked runs whose key set is a minority of the irreps. With
    (nearly) every irrep in the key set, restricted = full and excluded = chance by identity: such runs are
    counted as not informative, and with none left the check is a measurement."""
    # the losses' own key set where the runs logged it; the embedding's (which the losses once used) otherwise
    count = grokked["loss_key_count"].fillna(grokked["key_count_final"]) if "loss_key_count" in grokked else grokked["key_count_final"]
    small = grokked[count <= KEY_CAP * grokked["irreps"]]
    ok = small[(small["restricted_test"] <= 1.5 * small["loss_test"]) & (small["excluded_test"] >= 3 * small["loss_test"])]
    wide = {f"{r.task} {LABELS[r.optimizer]} seed {r.seed}": f"{int(c)}/{r.irreps}"
            for r, c in zip(grokked.itertuples(), count) if r.Index not in small.index}
    claim = "after grokking the key irreps carry the computation"
    setting = (f"final restricted test loss ≤ 1.5 × full and excluded ≥ 3 × full, grokked runs whose key set holds "
               f"≤ {KEY_CAP:g} of the non-trivial irreps")
    measured = {"informative runs passing": f"{len(ok)}/{len(small)}", "not informative (key irreps / irreps)": wide}
    if small.empty:
        return Verdict(claim, setting, measured, "all informative grokked runs", None,
                       "every grokked run's key set holds (nearly) every irrep: restricted = full and excluded = "
                       "chance by identity")
    return Verdict(claim, setting, measured, "all informative grokked runs", len(ok) == len(small))


def run(ctx: Context) -> list[Verdict]:
    settings = QUICK if ctx.quick else FULL
    store = Store(ctx.store_path)
    rows = []
    for task in settings["tasks"]:
        for optimizer in OPTIMIZERS:
            cfg = cell_config(ctx, settings, task, optimizer)
            ctx.echo(f"  {task}: {LABELS[optimizer]}, {cfg.num_members} seeds, {cfg.train.epochs} epochs")
            res = train(cfg, store=store, progress=ctx.progress)
            rows += measure(store, res, cfg, task, optimizer)
    runs = coverage_speed(pd.DataFrame(rows))
    budget = int(cfg.train.epochs)
    series = store.series(list(runs["run_id"]))
    for stem, keys in (("irrep_power", [("features.key_count", "key irreps of the embedding"),
                                         ("features.covered", "irreps covered by FFN neurons"),
                                         ("features.key_power", "embedding power in key irreps")]),
                       ("restricted_excluded", [("features.loss_test", "full test loss"),
                                                ("features.restricted_loss_test", "restricted test loss"),
                                                ("features.excluded_loss_test", "excluded test loss")])):
        optimizer_features_figure(series, runs, keys, labels=LABELS,
                                  title=f"Muon vs AdamW: irrep features over training ({'quick' if ctx.quick else 'full'})"
                                  ).savefig(ctx.figure_path(stem))
    for r in runs.itertuples():
        ctx.echo(f"  {r.task:<10} {LABELS[r.optimizer]:<5} seed {r.seed}: grok {r.grok_epoch}, features {r.acquisition_epoch}, "
                 f"covered {r.covered_final}/{r.irreps}, speed {r.coverage_speed:.2f}, loss full/restricted/excluded "
                 f"{r.loss_test:.3g}/{r.restricted_test:.3g}/{r.excluded_test:.3g}")
    ctx.extra["runs"] = [{k: (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in row.items()}
                         for row in runs.astype(object).where(runs.notna(), None).to_dict("records")]
    return verdicts(runs, budget)
