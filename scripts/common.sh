# Helpers the scripts share (sourced, not run): the cache folder, installing `just` and GNU
# time when a fresh machine lacks them, starting the mock teacher, making a seed.
# shellcheck shell=bash

KTPIPE_CACHE_DIR=${KTPIPE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/ktpipe}
export PATH="$HOME/.cargo/bin:$KTPIPE_CACHE_DIR/tools/bin:$PATH"

# ensure_just: puts `just` on PATH, from PyPI's prebuilt wheel (seconds) into a private
# virtual environment, or from crates.io when PyPI is out of reach (minutes).
ensure_just() {
  command -v just >/dev/null 2>&1 && return 0
  echo "ktpipe: installing just into $KTPIPE_CACHE_DIR/tools" >&2
  mkdir -p "$KTPIPE_CACHE_DIR"
  if python3 -m venv "$KTPIPE_CACHE_DIR/tools" >/dev/null 2>&1 &&
    "$KTPIPE_CACHE_DIR/tools/bin/pip" install --quiet --disable-pip-version-check rust-just; then
    return 0
  fi
  cargo install --locked --root "$KTPIPE_CACHE_DIR/tools" just
}

# ensure_gnu_time: installs GNU time (/usr/bin/time), which the measuring scripts read
# CPU, memory and context switches from, when it is missing.
ensure_gnu_time() {
  [ -x /usr/bin/time ] && return 0
  echo "ktpipe: installing GNU time" >&2
  apt-get install -y -qq time >/dev/null
}

# start_mock BIN URL_FILE MOCK_FLAGS...: starts BIN/mock-teacher (seed 1) in the background,
# its PID in MOCK_PID, and waits up to 5 s for the base URL it writes to URL_FILE.
start_mock() {
  local bin=$1 url_file=$2
  shift 2
  "$bin/mock-teacher" --seed 1 "$@" >"$url_file" 2>/dev/null &
  MOCK_PID=$!
  for _ in $(seq 50); do [ -s "$url_file" ] && break; sleep 0.1; done
}

# make_seed N FILE: N distinct seed rows, cycling through the sample seed.
make_seed() {
  python3 - "$1" tests/fixtures/sample_seed.jsonl >"$2" <<'PY'
import json, sys
n, path = int(sys.argv[1]), sys.argv[2]
rows = [json.loads(line) for line in open(path, encoding="utf-8")]
for i in range(n):
    row = dict(rows[i % len(rows)])
    row["document"] = f"(Part {i + 1}.) " + row["document"]
    print(json.dumps(row))
PY
}
