#!/usr/bin/env bash
# The Muon-grokking studies on one GPU, from a fresh machine with only PyTorch installed (no network):
# install groklab (carried wheels), run the CUDA tests, the li2_step and transformer_epoch benchmarks on CUDA
# (S = 1, 8, 32, 128), then two grids side by side: the six-task design `groklab reproduce muon-grokking
# --seeds 10` (6 tasks x 3 outputs x AdamW/Muon x 10 seeds) and `groklab reproduce muon-width-batch`
# (width x batch on div, 180 runs); gather timings, stores and verdicts into OUT. See docs/gpu.md.
#
#   bash benchmarks/gpu/fetch_wheels.sh                 # once, where pip reaches an index: wheels into .whl/
#   bash benchmarks/gpu/run.sh OUT [--tiny] [--workers N] [--budget S] [--stages LIST] [--work DIR] [--full-bench]
#
#   --tiny        every stage tiny and on the CPU (a 1-task, 1-seed quick grid): the script's self-test
#   --workers N   worker processes sharing the GPU per grid (default: 7 each, at most (cores - 2) / 2; tiny: 2)
#   --budget S    wall seconds for the whole script (default 570: one 10-minute device call); the grids get
#                 what install, tests and benchmarks leave, less 30 s for the summary, and are interrupted at
#                 its end (completed runs stay in the stores, counted in summary.json; a re-run resumes)
#   --stages LIST comma-separated subset of install,tests,bench,grid (default: all; they run in that order)
#   --work DIR    where the stores, checkpoints and per-stage outputs go (default: a new folder under /tmp);
#                 OUT receives only run.log, summary.json, both verdicts, both stores (gzipped), two figures
#   --full-bench  the benchmarks' full modes (default on CUDA: their --quick modes, to leave the grid time)
#   --stores DIR  resume: start the grids from the stores an earlier call brought back (DIR/store.sqlite.gz and
#                 DIR/store_wb.sqlite.gz); their complete runs are kept, the rest are trained
#
# PYTHON (default python3) is the interpreter that holds torch. Exit status 0 when every stage passed.
set -uo pipefail

usage() { awk 'NR > 1 && /^#/ {sub(/^# ?/, ""); print; next} NR > 1 {exit}' "$0"; exit 2; }
[ $# -ge 1 ] || usage
OUT=$1; shift
case "$OUT" in -*) usage ;; esac
TINY=0; WORKERS=""; BUDGET=570; STAGES="install,tests,bench,grid"; WORK=""; FULL_BENCH=0; STORES=""
while [ $# -gt 0 ]; do
    case "$1" in
        --tiny) TINY=1 ;;
        --workers) WORKERS=$2; shift ;;
        --budget) BUDGET=$2; shift ;;
        --stages) STAGES=$2; shift ;;
        --work) WORK=$2; shift ;;
        --full-bench) FULL_BENCH=1 ;;
        --stores) STORES=$(cd "$2" && pwd) || exit 2; shift ;;
        *) echo "run.sh: unknown option $1" >&2; usage ;;
    esac
    shift
done

REPO=$(cd "$(dirname "$0")/../.." && pwd)
PYTHON=${PYTHON:-python3}
START=$(date +%s)
mkdir -p "$OUT" || exit 2
OUT=$(cd "$OUT" && pwd)
WORK=${WORK:-$(mktemp -d /tmp/groklab-gpu.XXXXXX)}
mkdir -p "$WORK" && WORK=$(cd "$WORK" && pwd)
case "$WORK/" in "$OUT"/*) echo "run.sh: --work must lie outside OUT (only 8 files come back from OUT)" >&2; exit 2 ;; esac
SITE="$WORK/site"
LOG="$OUT/run.log"
rm -f "$OUT"/summary.json "$OUT"/verdict*.json "$OUT"/store*.sqlite.gz "$OUT"/*.png  # an earlier run's files
: > "$LOG"
: > "$WORK/stages.tsv"
cd "$REPO" || exit 2
export PYTHONUNBUFFERED=1 MPLBACKEND=Agg

if [ "$TINY" = 1 ]; then
    DEVICE=cpu
    WORKERS=${WORKERS:-2}
    export CUDA_VISIBLE_DEVICES=""   # the self-test runs on the CPU even where a GPU is present
    export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
else
    DEVICE=cuda
    cores=$(nproc 2>/dev/null || echo 4)
    half=$(( (cores - 2) / 2 ))
    WORKERS=${WORKERS:-$(( half < 7 ? (half < 1 ? 1 : half) : 7 ))}
fi

log() { echo "[run.sh $(date -u +%H:%M:%S)] $*" | tee -a "$LOG"; }
elapsed() { echo $(( $(date +%s) - START )); }
wants() { case ",$STAGES," in *",$1,"*) return 0 ;; *) return 1 ;; esac; }

# stage NAME TIMEOUT_S NOTE COMMAND...: run COMMAND (output to the log and stdout) under a time limit
# (SIGINT first, so Python unwinds; SIGKILL 20 s later), and record name, status and wall seconds.
stage() {
    local name=$1 limit=$2 note=$3; shift 3
    local t0 t1 rc
    log "stage $name (limit ${limit}s): $*"
    t0=$(date +%s%N)
    timeout --signal=INT --kill-after=20 "$limit" "$@" 2>&1 | tee -a "$LOG"
    rc=${PIPESTATUS[0]}
    t1=$(date +%s%N)
    [ "$rc" = 124 ] && note="${note:+$note; }timed out after ${limit}s"
    local ms=$(( (t1 - t0) / 1000000 ))
    printf '%s\t%s\t%d.%03d\t%s\n' "$name" "$rc" $(( ms / 1000 )) $(( ms % 1000 )) "$note" >> "$WORK/stages.tsv"
    log "stage $name: exit $rc"
    return "$rc"
}

log "repo $REPO, out $OUT, work $WORK, mode $([ $TINY = 1 ] && echo tiny || echo full), device $DEVICE, workers $WORKERS"
if command -v nvidia-smi >/dev/null 2>&1 && [ "$TINY" = 0 ]; then
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader > "$WORK/nvidia-smi.csv" 2>>"$LOG"
    cat "$WORK/nvidia-smi.csv" | tee -a "$LOG"
fi

export REPO PYTHON SITE WORK TINY DEVICE

# -- install: carried wheels, then groklab itself, both into $SITE (no index, no dependency resolution) ----
install() {
    local pyver wheels
    pyver=$("$PYTHON" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
    wheels=$(ls "$REPO"/.whl/*.whl 2>/dev/null | wc -l)
    mkdir -p "$SITE"
    if [ "$wheels" -gt 0 ] && [ "$pyver" = 3.12 ]; then
        "$PYTHON" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$SITE" \
            "$REPO"/.whl/*.whl || return 1
    elif [ "$TINY" = 1 ]; then
        echo "carried wheels skipped: Python $pyver here (the wheels are for 3.12); using this environment's packages"
    else
        echo "no carried wheels in $REPO/.whl (run benchmarks/gpu/fetch_wheels.sh and carry .whl)"
    fi
    # groklab from the checkout (its build needs setuptools, which the image has); the build folders it
    # leaves (build/, src/groklab.egg-info) are git-ignored
    if ! "$PYTHON" -m pip install -q --no-index --no-deps --no-build-isolation --no-compile --no-cache-dir \
            --target "$SITE" "$REPO"; then
        echo "pip could not build groklab; importing it from $REPO/src instead"
        echo "$REPO/src" > "$WORK/fallback_path"
    fi
}
run_tests() {
    "$PYTHON" -m pytest -q -p no:cacheprovider -rs tests/test_gpu.py "tests/test_optim.py::test_cuda_matches_cpu" \
        2>&1 | tee "$WORK/tests.txt"
    return "${PIPESTATUS[0]}"
}
bench() {  # bench SCRIPT NAME ARGS...: JSON to $WORK/NAME.json, messages to the log
    local script=$1 name=$2; shift 2
    "$PYTHON" "benchmarks/$script" --device "$DEVICE" --json "$@" > "$WORK/$name.json"
}
grid() {  # grid NAME ARGS...: one reproduction into WORK/NAME (store WORK/NAME.sqlite, JSON WORK/NAME.json)
    local name=$1; shift
    "$PYTHON" -c 'from groklab.cli import main; main()' reproduce "$name" "$@" \
        --store "$WORK/$name.sqlite" --out "$WORK/$name" --json > "$WORK/$name.json"
}
export -f install run_tests bench grid

if wants install; then
    stage install 120 "" bash -c install
    export PYTHONPATH="$SITE${PYTHONPATH:+:$PYTHONPATH}"
    [ -f "$WORK/fallback_path" ] && export PYTHONPATH="$PYTHONPATH:$(cat "$WORK/fallback_path")"
else
    export PYTHONPATH="$REPO/src${PYTHONPATH:+:$PYTHONPATH}"
fi
"$PYTHON" benchmarks/gpu/env.py > "$WORK/env.json" 2>>"$LOG"
env_rc=$?
cat "$WORK/env.json" >> "$LOG"
if [ "$env_rc" != 0 ]; then
    log "groklab or a dependency does not import (see env in summary.json); skipping the other stages"
    printf 'env\t%s\t0\t%s\n' "$env_rc" "missing packages" >> "$WORK/stages.tsv"
    STAGES=""
fi

# -- tests: the CUDA tests (they skip on a CPU) ------------------------------------------------------
wants tests && stage tests 120 "" bash -c run_tests

# -- benchmarks (their --quick modes on CUDA unless --full-bench; --tiny on the self-test), before the grids
# so that nothing else shares the device while they are timed; each gets at most 100 s
if wants bench; then
    if [ "$TINY" = 1 ]; then size="--tiny"; elif [ "$FULL_BENCH" = 1 ]; then size=""; else size="--quick"; fi
    members=""; [ "$TINY" = 0 ] && members="--members 1,8,32,128"
    stage li2_step 100 "$size $members" bash -c "bench li2_step.py li2_step $size $members"
    stage transformer_epoch 100 "$size $members" bash -c "bench transformer_epoch.py transformer_epoch $size $members --no-schedules"
fi

# -- the grids, side by side: what the budget leaves, less 30 s for the summary ----------------------
if [ "$TINY" = 1 ]; then
    SIX_ARGS="--quick --tasks add --seeds 1 --workers $WORKERS"; SIX_EXPECTED=6
    WB_ARGS="--quick --seeds 2 --workers 1"; WB_EXPECTED=32
else
    SIX_ARGS="--seeds 10 --workers $WORKERS"; SIX_EXPECTED=360
    WB_ARGS="--workers $WORKERS"; WB_EXPECTED=180
fi
if [ -n "$STORES" ]; then
    for pair in "store.sqlite.gz:muon-grokking" "store_wb.sqlite.gz:muon-width-batch"; do
        [ -f "$STORES/${pair%%:*}" ] && gunzip -c "$STORES/${pair%%:*}" > "$WORK/${pair##*:}.sqlite" \
            && log "resuming ${pair##*:} from $STORES/${pair%%:*}"
    done
fi
if wants grid; then
    left=$(( BUDGET - $(elapsed) - 30 ))
    if [ "$left" -lt 30 ]; then
        log "grids skipped: ${left}s of the ${BUDGET}s budget left"
        printf 'grid\t1\t0\t%s\n' "skipped: budget spent" >> "$WORK/stages.tsv"
    else
        if command -v nvidia-smi >/dev/null 2>&1 && [ "$TINY" = 0 ]; then
            nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader,nounits -l 1 > "$WORK/gpu_util.csv" 2>/dev/null &
            sampler=$!
        fi
        stage grid "$left" "muon-grokking $SIX_ARGS" bash -c "grid muon-grokking $SIX_ARGS" &
        six=$!
        stage grid_wb "$left" "muon-width-batch $WB_ARGS" bash -c "grid muon-width-batch $WB_ARGS" &
        wb=$!
        wait "$six" "$wb"
        [ -n "${sampler:-}" ] && kill "$sampler" 2>/dev/null
    fi
fi

# -- summary: OUT/summary.json and the files that come back ----------------------------------------
"$PYTHON" benchmarks/gpu/summarize.py "$WORK" "$OUT" --mode "$([ $TINY = 1 ] && echo tiny || echo full)" \
    --workers "$WORKERS" --expected-runs "$SIX_EXPECTED" --expected-wb-runs "$WB_EXPECTED" \
    --grid-command "reproduce muon-grokking $SIX_ARGS" --wb-command "reproduce muon-width-batch $WB_ARGS" 2>&1 | tee -a "$LOG"
log "done in $(elapsed)s; work folder $WORK"
awk -F'\t' '$2 != 0 {bad = 1} END {exit bad}' "$WORK/stages.tsv"
