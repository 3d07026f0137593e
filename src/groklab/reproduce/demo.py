"""`groklab demo`: a short tour — a group and its irreps, then the flagship Li2 Fig. 3 reproduction.

Both modes run the paper's setting (Z71, K=2048, n=2016, x², class-centred MSE, full-batch Adam lr 1e-3)
with the two arms the paper contrasts as one ensemble: weight decay 2e-4 (groks, near epoch 135 for
seed 0) and 0 (memorizes by epoch ~15, never generalizes). Quick mode: one seed, 300 epochs, test
evaluated every 5 epochs (about half a minute on two CPU cores). Full mode: the paper's 15 seeds per arm
and 1000 epochs, evaluated every epoch.
"""

from __future__ import annotations

from typing import Callable

from groklab.config import load_config
from groklab.groups import get_group
from groklab.groups.summary import group_summary
from groklab.train.loop import train

QUICK = ["optim.weight_decay=[2e-4,0]", "train.epochs=300", "train.eval_every=5", "train.checkpoint_dense_until=0"]
FULL = ["train.seeds=[" + ",".join(f"{s},{s}" for s in range(15)) + "]",
        "optim.weight_decay=[" + ",".join(["2e-4,0"] * 15) + "]", "train.epochs=1000"]


def group_tour(echo: Callable[[str], None]) -> None:
    for name in ("Z71", "D12", "S4"):
        info = group_summary(get_group(name))
        echo(f"  {name:<4} order {info['order']:>3}, {'abelian' if info['abelian'] else 'non-abelian':<11} "
             f"{info['num_classes']:>2} classes, irrep degrees {info['irrep_degrees'] if len(info['irrep_degrees']) < 12 else '1 x ' + str(len(info['irrep_degrees']))}")


def run_demo(config_path, quick: bool, store_path: str | None, echo: Callable[[str], None], progress: bool = True) -> list[dict]:
    echo("groklab demo: groups and their irreducible representations")
    group_tour(echo)
    overrides = list(QUICK if quick else FULL)
    if store_path:
        overrides.append(f"store.path={store_path}")
    cfg = load_config(config_path, overrides)
    echo(f"\nLi2 Fig. 3 ({'quick' if quick else 'full'}): {cfg.task.group}, K={cfg.model.width}, sigma=x^2, "
         f"class-centred MSE, Adam lr {cfg.member_values('lr')[0]:g}, weight decay "
         f"{' vs '.join(f'{w:g}' for w in cfg.member_values('weight_decay'))}, {cfg.train.epochs} epochs")
    return train(cfg, progress=progress)
