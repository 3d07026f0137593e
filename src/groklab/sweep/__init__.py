"""Sweeps: grid specs expanded into runs, packed into ensembles, run locally or on Ray, stored once.

    load_spec / spec_from_dict / SweepSpec     the YAML spec (base, axes, zip, seeds), validated
    plan_sweep / make_plan / Plan              runs, ensembles (shape groups sized by memory), what is done
    run_sweep / SweepReport                    drive an executor ("local" processes or "ray"), retry, store
    runs_frame / metrics_frame / series_frame  pandas DataFrames of what the store holds
"""

from groklab.sweep.driver import EXECUTORS, SweepReport, plan_sweep, run_sweep
from groklab.sweep.plan import Plan, make_plan
from groklab.sweep.query import metrics_frame, runs_frame, series_frame, sweep_spec, where_sql
from groklab.sweep.spec import SweepSpec, load_spec, parse_bytes, spec_from_dict

__all__ = ["EXECUTORS", "Plan", "SweepReport", "SweepSpec", "load_spec", "make_plan", "metrics_frame", "parse_bytes",
           "plan_sweep", "run_sweep", "runs_frame", "series_frame", "spec_from_dict", "sweep_spec", "where_sql"]
