"""`groklab demo`: a short tour — a group and its irreps, then the flagship Li2 Fig. 3 reproduction.

Quick mode shrinks Fig. 3 to Z23 (K=512, train fraction 0.5, Adam lr 5e-3) so that it finishes in
about a minute on two CPU cores, with the two arms the paper contrasts as one ensemble: weight decay
1e-3 (groks) and 0 (memorizes, never generalizes). Full mode runs the preset as the paper sets it up:
Z71, K=2048, n=2016, Adam lr 1e-3, weight decay 2e-4 vs 0.
"""

from __future__ import annotations

from typing import Callable

from groklab.config import load_config
from groklab.groups import get_group
from groklab.groups.summary import group_summary
from groklab.train.loop import train

QUICK = ["task.group=Z23", "model.width=512", "task.train_fraction=0.5", "optim.lr=5e-3",
         "optim.weight_decay=[1e-3,0]", "train.epochs=300", "train.eval_every=5", "train.checkpoint_dense_until=0"]
FULL = ["optim.weight_decay=[2e-4,0]", "train.epochs=1000"]


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
