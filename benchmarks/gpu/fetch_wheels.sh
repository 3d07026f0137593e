#!/usr/bin/env bash
# Download the wheels benchmarks/gpu/run.sh installs on the GPU machine (those marked `carry` in
# wheels.txt) into .whl/ at the repository root, for CPython 3.12 on manylinux x86_64. Run it where pip
# reaches a package index; the device call then names .whl in `carry` (.whl/ is git-ignored).
#
#   bash benchmarks/gpu/fetch_wheels.sh            # PYTHON=python3 by default
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
dest="$repo/.whl"
mkdir -p "$dest"
mapfile -t pins < <(sed 's/#.*//' "$here/wheels.txt" | awk '$2 == "carry" {print $1}')
[ "${#pins[@]}" -gt 0 ] || { echo "no carried wheels listed in $here/wheels.txt" >&2; exit 1; }
"${PYTHON:-python3}" -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 --platform manylinux1_x86_64 -d "$dest" "${pins[@]}"
# one version of each package: a stale second version would stop the whole install there
python3 - "$dest" "${pins[@]}" <<'PY'
import re, sys
from pathlib import Path
dest, pins = Path(sys.argv[1]), sys.argv[2:]
norm = lambda s: re.sub(r"[-_.]+", "_", s).lower()
wanted = {norm(p.split("==")[0]): p.split("==")[1] for p in pins}
for wheel in sorted(dest.glob("*.whl")):
    name, version = wheel.name.split("-")[:2]
    if norm(name) not in wanted or wanted[norm(name)] != version:
        wheel.unlink()
        print(f"removed {wheel.name} (not in wheels.txt)")
missing = sorted(set(wanted) - {norm(w.name.split("-")[0]) for w in dest.glob("*.whl")})
if missing:
    sys.exit(f"missing wheels: {missing}")
print(f"{len(wanted)} wheels in {dest}: {sum(w.stat().st_size for w in dest.glob('*.whl')) / 2**20:.1f} MiB")
PY
