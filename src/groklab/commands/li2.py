"""`groklab li2 ...`: the Li2 analyses from the shell, on a stored run or on a group.

    groklab li2 features RUN [--epoch E]      which irreps the trained nodes hold; missing ones and E_S (Thm 7)
    groklab li2 energy GROUP [--fraction p]   maxima of E(w) from random starts, and their census (Thm 2, Cor 2, Thm 5)
    groklab li2 theory GROUP                  p*, the feature count, reconstruction nodes (Thm 3), T0 (Thm 8)
    groklab li2 boundary GROUP [key=value]    the training fraction where half of the seeds grok, by a search blind to p* (Thm 4)

Each prints a table, or JSON with --json; everything is computed by `groklab.li2` functions.
"""

from __future__ import annotations

import math
from typing import Optional

import typer

from groklab.commands.common import existing_store, print_json
from groklab.config import SEED_LIMIT
from groklab.errors import GroklabError

li2_app = typer.Typer(no_args_is_help=True, help="Li2 analyses: trained features of a run, energy maxima, theory numbers.")


def register(app: typer.Typer) -> None:
    app.add_typer(li2_app, name="li2")


def _group(name: str):
    from groklab.groups import get_group

    return get_group(name)


@li2_app.command("features")
def features_command(
    run_id: str = typer.Argument(..., help="Run id or a unique prefix (a two-layer run on op=compose)."),
    epoch: Optional[int] = typer.Option(None, "--epoch", help="Snapshot epoch (default: the last)."),
    store: Optional[str] = typer.Option(None, "--store", help="SQLite store (default: store.path)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Per-irrep node counts and purity of a trained first layer, the missing irreps and E_S (Thm 7),
    and feature coverage over the run's snapshots (also `groklab features RUN`)."""
    from groklab.commands.features import print_two_layer, two_layer_features

    result = two_layer_features(existing_store(store), run_id, epoch)
    if as_json:
        print_json(result)
        return
    print_two_layer(result)


@li2_app.command("energy")
def energy_command(
    group_name: str = typer.Argument(..., metavar="GROUP", help="Group name, e.g. Z23, D10, S4."),
    fraction: float = typer.Option(1.0, "--fraction", help="Share of the M² pairs in the dataset (random subset; 1 = the full table)."),
    starts: int = typer.Option(64, "--starts", min=1, help="Random unit starts of the projected ascent."),
    activation: str = typer.Option("sqr", "--activation", help="σ: sqr, relu, ..."),
    seed: int = typer.Option(0, "--seed", help="Seed of the starts and of the subset."),
    paper_constants: bool = typer.Option(False, "--paper-constants", help="Report energies in the paper's normalisation (÷ 4)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Ascend E(w) = ½‖Ỹᵀσ(Xw)‖² on the unit sphere from random starts and census the maxima:
    on the full table each is one irrep with Thm 2's energy; below p* they memorise ("mixed")."""
    import torch

    from groklab.li2.energy import ACTIVATIONS, ascend_energy, census, full_data

    if not 0 < fraction <= 1:
        raise GroklabError(f"--fraction must be in (0, 1], got {fraction}")
    if activation not in ACTIVATIONS:
        raise GroklabError(f"unknown activation {activation!r}; choose one of {', '.join(sorted(ACTIVATIONS))}")
    if not 0 <= seed < SEED_LIMIT:
        raise GroklabError(f"--seed must be an integer in 0..{SEED_LIMIT - 1}, got {seed}")
    group = _group(group_name)
    _check_ascent_memory(starts, max(1, int(fraction * group.order**2)), 2 * group.order)
    idx, labels = full_data(group)
    if fraction < 1:
        keep = torch.randperm(len(labels), generator=torch.Generator().manual_seed(seed))[: max(1, int(fraction * len(labels)))]
        idx, labels = idx[keep.sort().values], labels[keep.sort().values]
    result = ascend_energy(idx, labels, group.order, starts=starts, activation=activation, seed=seed,
                           paper_constants=paper_constants)
    table = census(result.w, group, result.energy, result.converged)["table"]
    if paper_constants:  # census's closed form is the definition as written
        for row in table:
            if "closed_form" in row:
                row["closed_form"] /= 4
    out = dict(group=group.name, pairs=int(len(labels)), fraction=fraction, activation=activation, starts=starts,
               converged=int(result.converged.sum()), normalisation="paper (÷4)" if paper_constants else "definition as written",
               maxima=table)
    if as_json:
        print_json(out)
        return
    typer.echo(f"{group.name}: {out['pairs']} pairs, σ = {activation}, {out['converged']}/{starts} ascents converged "
               f"(energies: {out['normalisation']})")
    typer.echo(f"  {'maximum':>8} {'count':>6} {'E mean':>10} {'E min':>10} {'E max':>10} {'Thm 2 E':>10}")
    for row in table:
        closed = f"{row['closed_form']:>10.4g}" if row.get("closed_form") is not None else f"{'-':>10}"
        typer.echo(f"  {row['label']:>8} {row['count']:>6} {row['energy_mean']:>10.4g} {row['energy_min']:>10.4g} "
                   f"{row['energy_max']:>10.4g} {closed}")


def _check_ascent_memory(starts: int, pairs: int, dim: int) -> None:
    """Refuse, before anything is allocated, more ascent starts than memory holds."""
    from groklab.li2.ascent import ascent_bytes
    from groklab.train.memory import available_memory, format_bytes

    need, have = ascent_bytes(starts, pairs, dim), available_memory("cpu")
    if need > have:
        fit = max(1, starts * have // max(need, 1))
        raise GroklabError(f"--starts {starts} needs an estimated {format_bytes(need)}, more than the {format_bytes(have)} "
                           f"available; use --starts {fit} or fewer")


@li2_app.command("theory")
def theory_command(
    group_name: str = typer.Argument(..., metavar="GROUP", help="Group name, e.g. Z71, Z4xZ7, D22, S4."),
    c: Optional[float] = typer.Option(None, "--c", help="Critical-ratio constant (default: the reference's 2.7482)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """The Li2 numbers of a group: critical training fraction p* (Thm 4, irrep-degree correction),
    features to learn, nodes for exact reconstruction (Thm 3), and T0 (Thm 8, equal strengths)."""
    from groklab.groups import irreps
    from groklab.li2.theory import coupon_collector_T0, critical_ratio
    from groklab.tasks.splits import CRITICAL_RATIO_C

    group = _group(group_name)
    degrees = [int(d) for d in irreps(group).degrees]
    d_max, M = max(degrees), group.order
    constant = CRITICAL_RATIO_C if c is None else c
    if not (math.isfinite(constant) and constant > 0):
        raise GroklabError(f"--c must be a finite number > 0 (the reference's is {CRITICAL_RATIO_C}), got {constant}")
    try:
        p_star = critical_ratio(M, c=constant, d_max=d_max)
    except GroklabError:
        p_star = None  # the formula leaves (0, 1] for tiny groups
    from groklab.groups import real_irrep_groups

    features = len(real_irrep_groups(group)) - 1  # non-trivial real irreps (conjugate pairs count once)
    out = dict(group=group.name, order=M, abelian=d_max == 1, irrep_degrees=sorted(degrees), d_max=d_max, c=constant,
               critical_fraction=p_star, critical_pairs=None if p_star is None else math.ceil(p_star * M * M),
               features=features, reconstruction_nodes=2 * (sum(d**3 for d in degrees) - 1),
               coupon_collector_T0=round(coupon_collector_T0([1 / features] * features), 2) if features else 0.0)
    if as_json:
        print_json(out)
        return
    pstar = "outside (0, 1]: every pair is needed" if p_star is None else f"{p_star:.4f} ({out['critical_pairs']} of {M * M} pairs)"
    counts = {d: degrees.count(d) for d in sorted(set(degrees))}
    typer.echo(f"{group.name}: order {M}, irreps by degree: " + ", ".join(f"{n} of degree {d}" for d, n in counts.items()))
    typer.echo(f"  critical training fraction p* = corr·{constant:g}·ln M/M: {pstar}")
    typer.echo(f"  features to learn (non-trivial real irreps): {features}")
    typer.echo(f"  nodes for exact reconstruction with irrep nodes (Thm 3; 2M−2 for Z_M): {out['reconstruction_nodes']}")
    typer.echo(f"  independent nodes until every feature is found, equal strengths (Thm 8 T0): {out['coupon_collector_T0']}")


@li2_app.command("boundary")
def boundary_command(
    group_name: str = typer.Argument(..., metavar="GROUP", help="Group name, e.g. Z23, Z4xZ7, D22."),
    assignments: list[str] = typer.Argument(None, help="key=value overrides of the Fig. 5 setting, e.g. model.width=512"),
    seeds: int = typer.Option(8, "--seeds", help="Seeds per probe (one ensemble member each; at least 2)."),
    resolution: float = typer.Option(0.1, "--resolution", help="Stop when the bracket's hi/lo ≤ 1 + this."),
    bracket: str = typer.Option("0.02,0.9", "--bracket", help="LO,HI: the fixed training-fraction bracket the search bisects."),
    start_from_prediction: bool = typer.Option(False, "--start-from-prediction",
                                               help="Start at the reference's p* and gallop from it instead."),
    store: Optional[str] = typer.Option(None, "--store", help="SQLite store (default: store.path)."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show each probe's progress bar."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Find the training fraction at which half of the seeds grok: bisection (in log p) of a fixed bracket,
    blind to the prediction; every probe is an ensemble stored as runs (a re-run reuses them); the estimate
    is the crossing of a logistic grok-rate curve over all probes, its CI a bootstrap over seeds."""
    from groklab.sweep.boundary import search_boundary

    try:
        ends = tuple(float(v) for v in bracket.split(","))
    except ValueError:
        ends = ()
    if len(ends) != 2:
        raise GroklabError(f"--bracket must be two training fractions LO,HI, got {bracket!r}; e.g. --bracket 0.02,0.9")
    echo = (lambda line: None) if as_json else typer.echo
    result = search_boundary(group_name, assignments or [], seeds=seeds, resolution=resolution, bracket=ends,
                             start_from_prediction=start_from_prediction, store_path=store,
                             progress=progress and not as_json, echo=echo)
    if as_json:
        print_json(result.to_dict())
        return
    typer.echo(f"{result.group}: {result.message}")
    typer.echo(f"  {len(result.probes)} probes, {result.member_epochs} member-epochs, {result.seconds:.0f} s")
