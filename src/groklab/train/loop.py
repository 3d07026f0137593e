"""The training loop: one ensemble of S members, from config to stored results.

Reads top to bottom: set up -> (resume) -> for each epoch: train forward, evaluation, hooks,
divergence check, step, checkpoints -> grokking summaries -> store. Epoch e's metrics describe the
parameters after e epochs of training (full batch: one step per epoch, so the train metrics of epoch
e come free from the forward pass of step e+1, as in the Li2 reference, which logs before each step).
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Protocol

import numpy as np
import torch

from groklab.config import RunConfig
from groklab.errors import GroklabError
from groklab.store import Store
from groklab.train import checkpoint as ckpt
from groklab.train.divergence import diverging
from groklab.train.grokking import GrokThresholds, detect_grokking
from groklab.train.heap import release_free_heap
from groklab.train.setup import EnsembleData, setup
from groklab.train.preflight import preflight
from groklab.train.tensorboard import TensorBoardLogger

EVAL_CHUNK_ELEMENTS = 2**25  # members × rows × width per evaluation chunk (bounds activation memory)


# -- members and ids -------------------------------------------------------------------------------

def member_configs(cfg: RunConfig) -> list[RunConfig]:
    """The stand-alone config of each member: its own seed, lr and weight decay as scalars."""
    seeds, lrs, wds = cfg.member_seeds(), cfg.member_values("lr"), cfg.member_values("weight_decay")
    out = []
    for seed, lr, wd in zip(seeds, lrs, wds):
        member = cfg.model_copy(deep=True)
        member.train.seeds = [seed]
        member.optim.lr = lr
        member.optim.weight_decay = wd
        out.append(member)
    return out


def run_id_of(member_cfg: RunConfig) -> str:
    return member_cfg.config_hash()


def ensemble_id_of(run_ids: list[str]) -> str:
    return hashlib.sha256(",".join(run_ids).encode()).hexdigest()[:16]


# -- history ---------------------------------------------------------------------------------------

@dataclass
class History:
    """Per-epoch metrics of every member ([S] arrays per entry); test values NaN off the eval schedule."""

    epochs: list[int] = field(default_factory=list)
    train_loss: list[np.ndarray] = field(default_factory=list)
    train_acc: list[np.ndarray] = field(default_factory=list)
    test_loss: list[np.ndarray] = field(default_factory=list)
    test_acc: list[np.ndarray] = field(default_factory=list)
    collapse: list[np.ndarray] = field(default_factory=list)
    series: list[tuple[int, str, np.ndarray]] = field(default_factory=list)  # (epoch, key, [S])

    def metric_rows(self, member: int) -> list[tuple]:
        f = lambda a: None if not np.isfinite(a[member]) else float(a[member])  # noqa: E731
        return [(e, f(tl), f(ta), f(vl), f(va), f(c)) for e, tl, ta, vl, va, c in
                zip(self.epochs, self.train_loss, self.train_acc, self.test_loss, self.test_acc, self.collapse)]

    def series_rows(self, member: int) -> list[tuple]:
        return [(e, k, float(v[member])) for e, k, v in self.series if np.isfinite(v[member])]

    def evaluated(self, member: int):
        """Epochs with a test evaluation and the train/test accuracy there."""
        e = np.array(self.epochs)
        va = np.array([a[member] for a in self.test_acc])
        ta = np.array([a[member] for a in self.train_acc])
        keep = np.isfinite(va)
        return e[keep], ta[keep], va[keep]


# -- hooks -----------------------------------------------------------------------------------------

@dataclass
class HookContext:
    epoch: int
    cfg: RunConfig
    model: torch.nn.Module
    data: EnsembleData
    active: torch.Tensor


class Hook(Protocol):
    every: int

    def __call__(self, ctx: HookContext) -> dict[str, torch.Tensor | np.ndarray]: ...


# -- the loop --------------------------------------------------------------------------------------

def _accuracy(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    return (logits.argmax(-1) == labels).to(torch.float64).mean(-1)


@torch.no_grad()
def evaluate(model, loss_fn, x: torch.Tensor, y: torch.Tensor, collapse_fn=None) -> tuple[torch.Tensor, ...]:
    """Per-member mean loss and accuracy over a dataset, in row chunks to bound memory (and, given
    `collapse_fn`, the mean softmax-collapse fraction from the same logits, as a third value)."""
    S, n = y.shape
    width = getattr(model, "row_elements", getattr(model, "width", 1024))  # activation elements per row
    chunk = max(1, EVAL_CHUNK_ELEMENTS // max(1, S * width))
    loss = torch.zeros(S, dtype=torch.float64, device=y.device)
    correct = torch.zeros(S, dtype=torch.float64, device=y.device)
    collapse = torch.zeros(S, dtype=torch.float64, device=y.device)
    for i in range(0, n, chunk):
        logits = model(x[:, i : i + chunk])
        rows = logits.shape[1]
        loss += loss_fn(logits, y[:, i : i + chunk]).to(torch.float64) * rows
        correct += _accuracy(logits, y[:, i : i + chunk]) * rows
        if collapse_fn is not None:
            collapse += collapse_fn(logits).to(torch.float64) * rows
    return (loss / n, correct / n) if collapse_fn is None else (loss / n, correct / n, collapse / n)


def _minibatch_epoch(model, loss_fn, optimizer, data, batch_size, generators, active):
    """One shuffled pass; returns the running mean train loss/accuracy over the pass (as the base code logs)."""
    S, n = data.y_train.shape
    perms = torch.stack([torch.randperm(n, generator=g) for g in generators]).to(data.y_train.device)
    loss_sum = torch.zeros(S, dtype=torch.float64, device=data.y_train.device)
    correct = torch.zeros_like(loss_sum)
    for i in range(0, n, batch_size):
        idx = perms[:, i : i + batch_size]
        x = torch.gather(data.x_train, 1, idx.unsqueeze(-1).expand(-1, -1, data.x_train.shape[-1]))
        y = torch.gather(data.y_train, 1, idx)
        logits = model(x)
        loss = loss_fn(logits, y)
        _step(loss, optimizer, active)
        loss_sum += loss.detach().to(torch.float64) * idx.shape[1]
        correct += _accuracy(logits.detach(), y) * idx.shape[1]
    return loss_sum / n, correct / n


def _step(loss: torch.Tensor, optimizer, active: torch.Tensor) -> None:
    # Inactive (diverged) members contribute nothing; members never share parameters, so one
    # member's NaN cannot leak into another's gradient.
    optimizer.zero_grad()
    torch.where(active, loss, torch.zeros_like(loss)).sum().backward()
    optimizer.step(active=active)


@dataclass
class EnsembleOutcome:
    """What training an ensemble produced, ready to be stored (by `train` or by a sweep's driver)."""

    run_ids: list[str]
    members: list[RunConfig]
    ensemble_id: str
    folder: Path
    results: list[dict]
    history: History

    def store_rows(self, member: int) -> tuple[list[tuple], list[tuple]]:
        return self.history.metric_rows(member), self.history.series_rows(member)


def plan_members(cfg: RunConfig) -> tuple[list[RunConfig], list[str], str]:
    """Member configs, their run ids and the ensemble id (which names the checkpoint folder)."""
    members = member_configs(cfg)
    run_ids = [run_id_of(m) for m in members]
    if len(set(run_ids)) != len(run_ids):
        raise GroklabError("two ensemble members have identical settings (seed, lr, weight decay); make them differ")
    return members, run_ids, ensemble_id_of(run_ids)


def record_start(store: Store, cfg: RunConfig, *, sweep_id: str | None = None) -> None:
    """Mark every member of `cfg` as running in the store (one transaction per member)."""
    members, run_ids, ensemble_id = plan_members(cfg)
    folder = store.folder / "runs" / ensemble_id
    for s, (member, run_id) in enumerate(zip(members, run_ids)):
        store.start_run(run_id, config=member.model_dump(mode="json"), seed=member.train.seeds[0],
                        config_hash=member.config_hash(), name=cfg.name, ensemble_id=ensemble_id, member=s,
                        sweep_id=sweep_id, folder=str(folder))


def record_outcome(store: Store, outcome: EnsembleOutcome) -> None:
    for s, (run_id, result) in enumerate(zip(outcome.run_ids, outcome.results)):
        metrics, series = outcome.store_rows(s)
        store.write_results(run_id, metrics, series, summary=result, status="complete")


def train(cfg: RunConfig, *, store: Store | None = None, sweep_id: str | None = None,
          hooks: tuple[Hook, ...] = (), progress: bool | None = None, force: bool = False,
          on_epoch: Callable[[int], None] | None = None) -> list[dict]:
    """Train the ensemble described by `cfg`; return one result dict per member (also stored).

    Skips training when the store already has every member complete (unless `force`), and resumes
    from the ensemble's last resume checkpoint when one exists.

    Train accuracy with minibatches is the train-mode running mean over the epoch's batches (dropout
    on), as the Muon paper's base code logs it; that value feeds the grokking "train accuracy has
    stabilised" test. The eval-mode train accuracy at eval epochs is the series `train_acc_eval`.
    """
    _, run_ids, ensemble_id = plan_members(cfg)
    preflight(cfg)  # every check on the config, before the store is opened or anything is recorded as running
    store = store or Store(cfg.store.path)
    if not force and store.completed(run_ids) == set(run_ids):
        return [dict(store.run(r)["summary"], skipped=True) for r in run_ids]
    record_start(store, cfg, sweep_id=sweep_id)
    outcome = run_ensemble(cfg, store.folder / "runs" / ensemble_id, hooks=hooks, progress=progress, force=force,
                           on_epoch=on_epoch)
    record_outcome(store, outcome)
    return outcome.results


def run_ensemble(cfg: RunConfig, folder: Path, *, hooks: tuple[Hook, ...] = (), progress: bool | None = None,
                 force: bool = False, on_epoch: Callable[[int], None] | None = None) -> EnsembleOutcome:
    """Train one ensemble, writing only files under `folder` (checkpoints); no database access."""
    members, run_ids, ensemble_id = plan_members(cfg)
    folder = Path(folder)
    device, dtype, seeds, task, data, model, loss_fn, optimizer = setup(cfg)
    t = cfg.train
    S = len(seeds)

    history, start, active, diverged_at, elapsed = History(), 0, torch.ones(S, dtype=torch.bool, device=device), [None] * S, 0.0
    resume = None if force else ckpt.load_resume(folder)
    if resume is not None and resume.get("run_ids") == run_ids:
        model.load_state_dict(resume["model"])
        optimizer.load_state_dict(resume["optimizer"])
        history, start, diverged_at, elapsed = resume["history"], resume["next_epoch"], resume["diverged_at"], resume["elapsed"]
        active = torch.tensor([d is None for d in diverged_at], device=device)

    generators = [torch.Generator().manual_seed(seed + 7_919) for seed in seeds]  # minibatch order per member
    if resume is not None and "generators" in resume:
        for g, state in zip(generators, resume["generators"]):
            g.set_state(state)
    full_batch = t.batch_size is None or t.batch_size >= data.y_train.shape[1]
    collapse_fn = _collapse_fn(cfg)
    # Minibatch or dropout: the logged train accuracy is the train-mode running mean over the epoch (as the
    # Muon paper's base code logs it, and what detect_grokking's "train accuracy stabilised" test reads);
    # at eval epochs the eval-mode accuracy of the end-of-epoch parameters is stored as series `train_acc_eval`.
    eval_mode_train_acc = not full_batch or getattr(model, "dropout", 0.0) > 0
    bar = _progress_bar(cfg, start, progress)
    tensorboard = TensorBoardLogger(folder, run_ids, history) if t.tensorboard else None
    clock = time.perf_counter() - elapsed

    for epoch in range(start, t.epochs + 1):
        model.train()
        last = epoch == t.epochs
        if cfg.model.ridge_lambda is not None:
            model.ridge_top_layer_(data.x_train, data.y_train, cfg.model.ridge_lambda)
        if full_batch:
            with torch.set_grad_enabled(not last):
                logits = model(data.x_train)
                loss = loss_fn(logits, data.y_train)
            train_loss, train_acc = loss.detach().to(torch.float64), _accuracy(logits.detach(), data.y_train)
        elif epoch == 0:
            train_loss, train_acc = evaluate(model.eval(), loss_fn, data.x_train, data.y_train)
        else:
            train_loss, train_acc = _minibatch_epoch(model, loss_fn, optimizer, data, t.batch_size, generators, active)

        nan = torch.full((S,), float("nan"), dtype=torch.float64, device=device)
        test_loss = test_acc = collapse = nan
        if epoch % t.eval_every == 0 or last:
            model.eval()
            test_loss, test_acc = evaluate(model, loss_fn, data.x_test, data.y_test)
            if eval_mode_train_acc:  # series only; the running train-mode value feeds grokking detection
                train_eval = evaluate(model, loss_fn, data.x_train, data.y_train, collapse_fn=collapse_fn)
                history.series.append((epoch, "train_acc_eval", train_eval[1].cpu().numpy()))
            if collapse_fn is not None:  # minibatch: from the eval-mode pass above
                collapse = (collapse_fn(logits.detach()) if full_batch else train_eval[2]).to(torch.float64)
        for hook in hooks:
            if hook.every and (epoch % hook.every == 0 or last):
                for key, value in hook(HookContext(epoch, cfg, model, data, active)).items():
                    history.series.append((epoch, key, np.asarray(torch.as_tensor(value).detach().cpu(), dtype=float)))

        newly = active & diverging(train_loss, history.train_loss[0] if history.train_loss else None)
        for s in torch.nonzero(newly).flatten().tolist():
            diverged_at[s] = epoch
        active &= ~newly
        train_loss = torch.where(active | newly, train_loss, nan)
        history.epochs.append(epoch)
        for name, value in (("train_loss", train_loss), ("train_acc", train_acc), ("test_loss", test_loss),
                            ("test_acc", test_acc), ("collapse", collapse)):
            getattr(history, name).append(value.cpu().numpy())
        if tensorboard is not None:
            tensorboard.log(epoch, history)

        if ckpt.snapshot_due(epoch, dense_until=t.checkpoint_dense_until, every=t.checkpoint_every, last_epoch=t.epochs):
            ckpt.save_snapshot(folder, epoch, model)
        if full_batch and not last and bool(active.any()):
            _step(loss, optimizer, active)
        if not active.any():
            _log_all_diverged(bar, epoch)
        if (epoch + 1) % t.checkpoint_every == 0 and not last:
            ckpt.save_resume(folder, dict(run_ids=run_ids, model=model.state_dict(), optimizer=optimizer.state_dict(),
                                          history=history, next_epoch=epoch + 1, diverged_at=diverged_at,
                                          elapsed=time.perf_counter() - clock,
                                          generators=[g.get_state() for g in generators]))
        if bar is not None:
            bar.update(1)
            if epoch % max(1, t.eval_every) == 0:
                bar.set_postfix(train=f"{float(train_acc.mean()):.3f}", test=f"{float(test_acc.nanmean()) if test_acc.isfinite().any() else float('nan'):.3f}",
                                diverged=sum(d is not None for d in diverged_at))
        if device.type == "cpu":
            release_free_heap(epoch)
        if on_epoch is not None:
            on_epoch(epoch)
        if not active.any():
            break
    if bar is not None:
        bar.close()
    if tensorboard is not None:
        tensorboard.close()

    wall = time.perf_counter() - clock
    results = _summaries(cfg, members, run_ids, seeds, history, diverged_at, wall)
    (folder / "resume.pt").unlink(missing_ok=True)
    return EnsembleOutcome(run_ids, members, ensemble_id, folder, results, history)


def _summaries(cfg, members, run_ids, seeds, history: History, diverged_at, wall) -> list[dict]:
    t = cfg.train
    thresholds = GrokThresholds(t.memorize_acc, t.grok_acc, t.stable_evals, t.sustain_evals)
    out = []
    for s, member in enumerate(members):
        epochs, train_acc, test_acc = history.evaluated(s)
        grok = detect_grokking(epochs, train_acc, test_acc, thresholds)
        last = lambda series: _last_finite(series, s)  # noqa: E731
        out.append(dict(
            run_id=run_ids[s], seed=seeds[s], lr=member.optim.lr, weight_decay=member.optim.weight_decay,
            **grok.to_dict(), diverged=diverged_at[s] is not None, diverged_epoch=diverged_at[s],
            epochs=history.epochs[-1] if history.epochs else 0,
            final_train_acc=last(history.train_acc), final_test_acc=last(history.test_acc),
            final_train_loss=last(history.train_loss), final_test_loss=last(history.test_loss),
            wall_seconds=round(wall, 3),
        ))
    return out


def _last_finite(series: list[np.ndarray], member: int) -> float | None:
    for values in reversed(series):
        if np.isfinite(values[member]):
            return float(values[member])
    return None


def _collapse_fn(cfg: RunConfig):
    if cfg.loss.kind != "ce":
        return None
    from groklab.losses import softmax_collapse_fraction

    return lambda logits: softmax_collapse_fraction(logits, dtype=cfg.loss.dtype)


def _progress_bar(cfg: RunConfig, start: int, progress: bool | None):
    import sys

    show = cfg.train.progress if progress is None else progress
    if not show:
        return None
    from tqdm import tqdm

    return tqdm(total=cfg.train.epochs + 1, initial=start, desc=cfg.name, unit="ep", file=sys.stderr,
                dynamic_ncols=True, leave=False, disable=None)  # None: off when stderr is not a terminal


def _log_all_diverged(bar, epoch: int) -> None:
    import sys

    print(f"every member diverged by epoch {epoch}; stopping", file=sys.stderr)
