"""The training loop: one ensemble of S members, from config to stored results.

Reads top to bottom: set up -> (resume) -> for each epoch: train forward, evaluation, hooks,
divergence check, step, checkpoints -> grokking summaries -> store. Epoch e's metrics describe the
parameters after e epochs of training (full batch: one step per epoch, so the train metrics of epoch
e come free from the forward pass of step e+1, as in the Li2 reference, which logs before each step).
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from groklab import interrupts
from groklab.config import RunConfig
from groklab.errors import GroklabError
from groklab.store import Store
from groklab.train import checkpoint as ckpt
from groklab.train.compaction import Stack, compact, subset_config
from groklab.train.divergence import diverging
from groklab.train.grokking import GrokThresholds, detect_grokking
from groklab.train.heap import keep_large_blocks_on_heap, release_free_heap
from groklab.train.history import History
from groklab.train.hooks import Hook, HookContext, hook_summaries
from groklab.train.members import ensemble_id_of, member_configs, plan_members, run_id_of
from groklab.train.preflight import preflight
from groklab.train.setup import setup
from groklab.train.steps import accuracy, evaluate, minibatch_epoch, step
from groklab.train.stopping import MemberStops, PlateauRule
from groklab.train.tensorboard import TensorBoardLogger

__all__ = ["History", "EnsembleOutcome", "member_configs", "run_id_of", "ensemble_id_of", "plan_members",
           "record_start", "record_outcome", "train", "run_ensemble"]  # members: re-exported


# -- the loop --------------------------------------------------------------------------------------

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
        """A member's metric and series rows up to its stopped epoch (its stored series end there)."""
        until = self.results[member].get("stopped_epoch")
        return self.history.metric_rows(member, until), self.history.series_rows(member, until)


def record_start(store: Store, cfg: RunConfig, *, sweep_id: str | None = None) -> None:
    """Mark every member of `cfg` as running in the store (one transaction per member); a member stored
    complete keeps its row as it is until its new results replace it (`Store.start_run`)."""
    members, run_ids, ensemble_id = plan_members(cfg)
    folder = ckpt.runs_folder(store.folder, ensemble_id)
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

    Members the store already has complete are not trained again (unless `force`): their stored summaries
    are returned (with `skipped`), and the others train as an ensemble of their own, so a complete run's
    row, folder and snapshots are never rewritten. Resumes from the ensemble's last resume checkpoint when
    one exists. The hooks the config asks for (e.g. `li2.every`) are built by `setup`; `hooks` adds extras.
    An interrupt or an error marks the runs it cut short `interrupted` or `failed`, never left `running`.

    Train accuracy with minibatches is the train-mode running mean over the epoch's batches (dropout
    on), as the Muon paper's base code logs it; that value feeds the grokking "train accuracy has
    stabilised" test. The eval-mode train accuracy at eval epochs is the series `train_acc_eval`.
    """
    _, run_ids, ensemble_id = plan_members(cfg)
    preflight(cfg)  # every check on the config, before the store is opened or anything is recorded as running
    store = store or Store(cfg.store.path)
    done = set() if force else store.completed(run_ids)
    todo = [s for s, r in enumerate(run_ids) if r not in done]
    if not todo:
        return [dict(store.run(r)["summary"], skipped=True) for r in run_ids]
    if done:
        cfg = subset_config(cfg, todo)  # each member keeps its seed, lr and weight decay, so its run id
        ensemble_id = ensemble_id_of([run_ids[s] for s in todo])
    interrupts.raise_if_pending()  # a signal noted while an earlier ensemble finished: start nothing new
    record_start(store, cfg, sweep_id=sweep_id)
    reached = [None]

    def track(epoch: int) -> None:
        reached[0] = epoch
        if on_epoch is not None:
            on_epoch(epoch)

    with _ending_runs(store, plan_members(cfg)[1], reached):
        outcome = run_ensemble(cfg, ckpt.runs_folder(store.folder, ensemble_id), hooks=hooks, progress=progress,
                               force=force, on_epoch=track)
        record_outcome(store, outcome)
    trained = dict(zip(outcome.run_ids, outcome.results))
    return [trained[r] if r in trained else dict(store.run(r)["summary"], skipped=True) for r in run_ids]


@contextmanager
def _ending_runs(store: Store, run_ids: list[str], reached: list):
    """Runs left `running` by an interrupt are marked `interrupted`, by an error `failed` (with the error):
    never left `running`. Best effort: a store that cannot be written (the error itself, maybe) keeps them."""
    try:
        yield
    except interrupts.STOPS as err:
        where = f"at epoch {reached[0] + 1}" if reached[0] is not None else None
        _end(store, run_ids, "interrupted", None)
        raise interrupts.Interrupted.of(err, where) from None
    except Exception as err:
        _end(store, run_ids, "failed", f"{type(err).__name__}: {err}")
        raise


def _end(store: Store, run_ids: list[str], status: str, error: str | None) -> None:
    import sqlite3

    try:
        store.end_runs(run_ids, status, error)
    except (GroklabError, sqlite3.Error, OSError):
        pass


def run_ensemble(cfg: RunConfig, folder: Path, *, hooks: tuple[Hook, ...] = (), progress: bool | None = None,
                 force: bool = False, on_epoch: Callable[[int], None] | None = None) -> EnsembleOutcome:
    """Train one ensemble, writing only files under `folder` (checkpoints); no database access.

    Members stop on their own (`train.stop`; diverged members always): a stopping member's series end
    at that epoch, and it leaves the stack (`groklab.train.compaction`); when none are left, training ends.
    A signal (see `groklab.interrupts`) ends the epoch in progress, writes the resume state for the next
    one and raises `Interrupted`.
    """
    with interrupts.deferring():
        return _run_ensemble(cfg, folder, hooks=hooks, progress=progress, force=force, on_epoch=on_epoch)


def _run_ensemble(cfg: RunConfig, folder: Path, *, hooks, progress, force, on_epoch) -> EnsembleOutcome:
    members, run_ids, ensemble_id = plan_members(cfg)
    folder = Path(folder)
    run = setup(cfg)
    device, dtype, seeds, task, loss_fn = run.device, run.dtype, run.seeds, run.task, run.loss_fn
    hooks = (*run.hooks, *hooks)  # the config's hooks, then the caller's extras
    if device.type == "cpu":
        keep_large_blocks_on_heap()
    t = cfg.train
    S = len(seeds)
    stack = Stack(cfg, list(range(S)), run.data, run.model, run.optimizer,
                  [torch.Generator().manual_seed(seed + 7_919) for seed in seeds])  # minibatch order per member
    members_state = MemberStops(S, GrokThresholds(t.memorize_acc, t.grok_acc, t.stable_evals, t.sustain_evals), t.stop,
                                PlateauRule(t.plateau_evals, t.plateau_delta))
    history, start, elapsed = History(), 0, 0.0
    resumed = None if force else _load_resume(folder, run_ids, stack, members_state, task, device, dtype, hooks)
    if resumed is not None:
        stack, history, start, elapsed = resumed
    data, model = stack.data, stack.model

    full_batch = t.batch_size is None or t.batch_size >= data.y_train.shape[1]
    collapse_fn = _collapse_fn(cfg)
    # Minibatch or dropout: the logged train accuracy is the train-mode running mean over the epoch (as the
    # Muon paper's base code logs it, and what detect_grokking's "train accuracy stabilised" test reads);
    # at eval epochs the eval-mode accuracy of the end-of-epoch parameters is stored as series `train_acc_eval`.
    eval_mode_train_acc = not full_batch or getattr(model, "dropout", 0.0) > 0
    bar = _progress_bar(cfg, start, progress)
    tensorboard = TensorBoardLogger(folder, run_ids, history) if t.tensorboard else None
    wandb = _wandb_logger(cfg, folder, run_ids, members, ensemble_id, history)
    clock = time.perf_counter() - elapsed

    for epoch in range(start, t.epochs + 1):
        model, data, optimizer, alive = stack.model, stack.data, stack.optimizer, stack.alive
        spread = lambda values: _spread(values, alive, S)  # noqa: E731  [S'] on the stack -> [S] numpy
        active = torch.ones(stack.size, dtype=torch.bool, device=device)
        model.train()
        last = epoch == t.epochs
        if cfg.model.ridge_lambda is not None:
            model.ridge_top_layer_(data.x_train, data.y_train, cfg.model.ridge_lambda)
        if full_batch:
            with torch.set_grad_enabled(not last):
                logits = model(data.x_train)
                loss = loss_fn(logits, data.y_train)
            train_loss, train_acc = loss.detach().to(torch.float64), accuracy(logits.detach(), data.y_train)
        elif epoch == 0:
            train_loss, train_acc = evaluate(model.eval(), loss_fn, data.x_train, data.y_train)
        else:
            train_loss, train_acc = minibatch_epoch(model, loss_fn, optimizer, data, t.batch_size, stack.generators,
                                                     active)

        test_loss = test_acc = collapse = torch.full((stack.size,), float("nan"), dtype=torch.float64, device=device)
        evaluated = epoch % t.eval_every == 0 or last
        if evaluated:
            train_pass = eval_mode_train_acc and (t.train_eval_every is None or epoch % t.train_eval_every == 0 or last)
            test_loss, test_acc, collapse, train_acc_eval = _evaluate(
                model, loss_fn, data, collapse_fn, train_pass, logits if full_batch else None, collapse)
            if train_acc_eval is not None:  # series only; the running train-mode value feeds grokking detection
                history.series.append((epoch, "train_acc_eval", spread(train_acc_eval)))

        # a runaway (train/divergence.py) measured against the member's own epoch-0 loss
        diverged = diverging(train_loss, history.train_loss[0][alive] if history.train_loss else None)
        active &= ~diverged
        ending = members_state.decide(epoch, alive, diverged, train_acc, test_acc, evaluated, last,
                                      time.perf_counter() - clock)
        for hook in hooks:
            if hook.every and (epoch % hook.every == 0 or last or ending):
                for key, value in hook(HookContext(epoch, stack.cfg, model, data, active)).items():
                    history.series.append((epoch, key, spread(np.asarray(torch.as_tensor(value).detach().cpu(), dtype=float))))

        history.epochs.append(epoch)
        for name, value in (("train_loss", train_loss), ("train_acc", train_acc), ("test_loss", test_loss),
                            ("test_acc", test_acc), ("collapse", collapse)):
            getattr(history, name).append(spread(value))
        for logger in (tensorboard, wandb):
            if logger is not None:
                logger.log(epoch, history)

        if ending or ckpt.snapshot_due(epoch, dense_until=t.checkpoint_dense_until,
                                       every=t.snapshot_every or t.checkpoint_every, last_epoch=t.epochs):
            ckpt.save_snapshot(folder, epoch, model, members=alive)
        survivors = [s for s in alive if s not in ending]
        if full_batch and not last and survivors:
            step(loss, optimizer, active)
        if ending and survivors:
            stack = compact(stack, survivors, task, device, dtype, hooks)
        if (epoch + 1) % t.checkpoint_every == 0 and not last and survivors:
            _save_resume(folder, run_ids, stack, history, epoch + 1, members_state, time.perf_counter() - clock)
        if bar is not None:
            bar.update(1)
            if epoch % max(1, t.eval_every) == 0:
                bar.set_postfix(train=f"{float(train_acc.nanmean()):.3f}", test=f"{float(test_acc.nanmean()) if test_acc.isfinite().any() else float('nan'):.3f}",
                                running=len(survivors), diverged=members_state.diverged_count())
        if device.type == "cpu":
            release_free_heap(epoch)
        if on_epoch is not None:
            on_epoch(epoch)
        if interrupts.pending() and survivors and not last:
            _save_resume(folder, run_ids, stack, history, epoch + 1, members_state, time.perf_counter() - clock)
            for closing in (bar, tensorboard, wandb):
                if closing is not None:
                    closing.close()
            raise interrupts.Interrupted(interrupts.pending(), f"at epoch {epoch + 1}")
        if not survivors:
            if members_state.all_diverged():
                _log_all_diverged(bar, epoch)
            break
    if bar is not None:
        bar.close()
    for logger in (tensorboard, wandb):
        if logger is not None:
            logger.close()

    wall = time.perf_counter() - clock
    results = _summaries(cfg, members, run_ids, seeds, history, members_state, wall)
    for s, result in enumerate(results):  # e.g. Li2 stage onsets, from the member's series as they are stored
        result.update(hook_summaries(hooks, history.series_rows(s, result.get("stopped_epoch"))))
    ckpt.remove_resume(folder)
    return EnsembleOutcome(run_ids, members, ensemble_id, folder, results, history)


# -- steps of the loop -----------------------------------------------------------------------------

def _load_resume(folder: Path, run_ids: list[str], stack: Stack, stops: MemberStops, task, device, dtype, hooks):
    """(stack, history, next epoch, elapsed seconds) from `folder`'s resume state when it belongs to these
    runs, with `stops` restored and the stack compacted to the members then alive; else None."""
    resume = ckpt.load_resume(folder, warn=_say)
    if resume is None or resume.get("run_ids") != run_ids:
        return None
    alive = resume.get("alive", [s for s, d in enumerate(resume["diverged_at"]) if d is None])
    if alive != stack.alive:
        stack = compact(stack, alive, task, device, dtype, hooks)
    stack.model.load_state_dict(resume["model"])
    stack.optimizer.load_state_dict(resume["optimizer"])
    stops.load(resume.get("stops"), resume["diverged_at"])
    for g, state in zip(stack.generators, resume.get("generators", [])):
        g.set_state(state)
    return stack, History.from_state(resume["history"]), resume["next_epoch"], resume["elapsed"]


def _save_resume(folder: Path, run_ids: list[str], stack: Stack, history: History, next_epoch: int,
                 stops: MemberStops, elapsed: float) -> None:
    """Everything `_load_resume` needs to continue bit for bit at `next_epoch` (replaced atomically)."""
    ckpt.save_resume(folder, dict(run_ids=run_ids, model=stack.model.state_dict(),
                                  optimizer=stack.optimizer.state_dict(), history=history.state(),
                                  next_epoch=next_epoch, diverged_at=stops.diverged_at,
                                  stops=stops.state(), alive=stack.alive, elapsed=elapsed,
                                  generators=[g.get_state() for g in stack.generators]))


def _evaluate(model, loss_fn, data, collapse_fn, train_pass: bool, full_batch_logits, collapse):
    """One evaluation of the stack: (test loss, test accuracy, collapse fraction, eval-mode train accuracy or
    None), each [S']. `train_pass`: run the eval-mode pass over the training set (train.train_eval_every).
    The collapse fraction comes from the full-batch train logits of this epoch, or with minibatches from
    that pass; `collapse` (NaN) is kept without a collapse_fn or when the pass is skipped."""
    model.eval()
    test_loss, test_acc = evaluate(model, loss_fn, data.x_test, data.y_test)
    train_eval = None
    if train_pass:
        train_eval = evaluate(model, loss_fn, data.x_train, data.y_train, collapse_fn=collapse_fn)
    if collapse_fn is not None and full_batch_logits is not None:
        collapse = collapse_fn(full_batch_logits.detach()).to(torch.float64)
    elif collapse_fn is not None and train_eval is not None:
        collapse = train_eval[2].to(torch.float64)
    return test_loss, test_acc, collapse, None if train_eval is None else train_eval[1]


def _spread(values, alive: list[int], size: int) -> np.ndarray:
    """Values of the stack's positions [S'] placed at their members' indices in an [S] array (NaN elsewhere)."""
    values = values.detach().cpu().numpy() if isinstance(values, torch.Tensor) else np.asarray(values, dtype=float)
    if len(alive) == size:
        return values
    out = np.full(size, np.nan, dtype=values.dtype if values.dtype.kind == "f" else float)
    out[alive] = values
    return out


def _summaries(cfg, members, run_ids, seeds, history: History, stops: MemberStops, wall) -> list[dict]:
    t = cfg.train
    thresholds = GrokThresholds(t.memorize_acc, t.grok_acc, t.stable_evals, t.sustain_evals)
    out = []
    for s, member in enumerate(members):
        epochs, train_acc, test_acc = history.evaluated(s)
        grok = detect_grokking(epochs, train_acc, test_acc, thresholds)
        last = lambda series: _last_finite(series, s)  # noqa: E731
        stopped = stops.stopped_epoch[s] if stops.stopped_epoch[s] is not None else (history.epochs[-1] if history.epochs else 0)
        out.append(dict(
            run_id=run_ids[s], seed=seeds[s], lr=member.optim.lr, weight_decay=member.optim.weight_decay,
            **grok.to_dict(), diverged=stops.diverged_at[s] is not None, diverged_epoch=stops.diverged_at[s],
            epochs=stopped, stopped_epoch=stopped, stop_reason=stops.reason[s] or "budget",
            final_train_acc=last(history.train_acc), final_test_acc=last(history.test_acc),
            final_train_loss=last(history.train_loss), final_test_loss=last(history.test_loss),
            wall_seconds=round(stops.wall[s] if stops.wall[s] is not None else wall, 3),
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
    """A bar on a terminal or in Jupyter, a log line about every 30 s elsewhere (`groklab.train.progress`)."""
    show = cfg.train.progress if progress is None else progress
    if not show:
        return None
    from groklab.train.progress import progress_bar

    return progress_bar(cfg.name, cfg.train.epochs + 1, start)


def _wandb_logger(cfg: RunConfig, folder: Path, run_ids, members, ensemble_id: str, history):
    if not cfg.train.wandb:
        return None
    from groklab.train.wandb_log import WandbLogger

    return WandbLogger(folder, run_ids, members, ensemble_id, history)


def _say(message: str) -> None:
    import sys

    print(message, file=sys.stderr)


def _log_all_diverged(bar, epoch: int) -> None:
    import sys

    print(f"every member diverged by epoch {epoch}; stopping", file=sys.stderr)
