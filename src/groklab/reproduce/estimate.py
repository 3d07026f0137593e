"""`groklab reproduce NAME --estimate`: how long a reproduction's mode takes on this machine, without running it.

Reproductions that run sweeps define their own `estimate(ctx)` (their plan's ensembles timed by
`groklab.sweep.estimate`). The others are run here with their training replaced by a probe, in a throw-away
folder: each training cell (`train_cells`) or ensemble (`train`) is trained for a one-epoch warm-up and then
`probe_epochs` timed epochs with the cell's own config (group, width, members, optimizer, evaluation
cadence), and seconds per epoch × the cell's budget is its projection. Cells are timed on an evenly spaced
subset when there are more than `max_cells`, and the total is scaled by the count. The projection leaves out
analysis and plotting and assumes a steady epoch time; runs that stop early finish sooner, so it is an upper
bound. Reproductions that train nothing say so.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from groklab.config import RunConfig, load_config
from groklab.sweep.estimate import time_config
from groklab.train.progress import duration

class _Planned(Exception):
    """Raised by the train_cells probe once every cell is timed, to stop the reproduction before its analysis."""


def _total(cells: list[tuple[RunConfig, float]], count: int) -> dict:
    seconds = sum(per_epoch * (cfg.train.epochs + 1) for cfg, per_epoch in cells)
    member_epochs = sum(cfg.train.epochs * cfg.num_members for cfg, _ in cells)
    scale = count / max(1, len(cells))
    return {"seconds_upper": round(seconds * scale, 1), "member_epochs": int(member_epochs * scale),
            "cells": count, "probed": len(cells)}


def project(module, ctx, *, probe_epochs: int = 3, max_cells: int = 12) -> dict:
    """Run `module` (a reproduction) with its training probed; return the projection (see the module doc)."""
    from groklab.reproduce import Context
    from groklab.train import cells as training_cells

    timed: list[tuple[RunConfig, float]] = []
    count = {"cells": 0}
    with tempfile.TemporaryDirectory() as tmp:
        def probe_cells(base, cells, store_path, progress=True, echo=None):
            cells = list(cells)
            step = max(1, -(-len(cells) // max_cells))
            for _, overrides in cells[::step]:
                cfg = load_config(None, [*training_cells.QUIET, *base, *overrides])
                with training_cells._threads_for(cfg):
                    timed.append((cfg, time_config(cfg, tmp, probe_epochs)[0]))
            count["cells"] += len(cells)
            raise _Planned

        def probe_train(cfg, *args, **kwargs):  # times the ensemble and hands its short run back to the caller
            per_epoch, results = time_config(cfg, tmp, probe_epochs)
            timed.append((cfg, per_epoch))
            count["cells"] += 1
            return results

        patched = {k: v for k, v in (("train_cells", probe_cells), ("train", probe_train)) if hasattr(module, k)}
        if not patched:
            return {"seconds_upper": 0.0, "member_epochs": 0, "cells": 0, "probed": 0,
                    "text": f"{ctx.name} trains no network: it computes its answer directly (the README's table "
                            "gives its measured time)"}
        originals = {k: getattr(module, k) for k in patched}
        probe_ctx = Context(ctx.name, ctx.quick, Path(tmp) / "out", f"{tmp}/store.sqlite", ctx.seeds, progress=False,
                            echo=lambda _: None, groups=ctx.groups, medium=ctx.medium, tasks=ctx.tasks)
        try:
            for k, fn in patched.items():
                setattr(module, k, fn)
            module.run(probe_ctx)
        except _Planned:
            pass
        except Exception:  # the analysis of the short probe runs may fail; the timings are what is wanted
            if not timed:
                raise
        finally:
            for k, fn in originals.items():
                setattr(module, k, fn)
    out = _total(timed, max(count["cells"], len(timed)))
    hours = out["seconds_upper"] / 3600
    out["text"] = (f"{ctx.name} ({'quick' if ctx.quick else 'full'}): at most {duration(out['seconds_upper'])}"
                   f"{f' ({hours:.1f} h)' if hours >= 1 else ''} of training on this machine for {out['cells']} "
                   f"ensemble(s), {out['member_epochs']:,} member-epochs if every run trains to its budget "
                   f"({out['probed']} timed for {probe_epochs} epochs; analysis and plotting not included)")
    return out
