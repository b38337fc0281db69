# Shared plumbing of the Justfile recipes, sourced by each of them (not run on its own).
#
# A recipe is one visible pipeline of the five filters. Each filter runs under `stage NAME`,
# which labels its messages, collects its summary (--stats) and its rejects (--rejects)
# under <out>/<dataset>/.stages/, and records a stage that failed. `ktp_finish` then makes
# gen.jsonl and rejects.jsonl appear whole or not at all and prints the per-stage table.
# shellcheck shell=bash

# ktp_begin DATASET OUT_DIR: prepares <out>/<dataset>/ and the stage folder.
ktp_begin() {
  KTP_DATASET=$1
  KTP_DIR=$2/$1
  KTP_STAGES=$KTP_DIR/.stages
  KTP_STARTED=$EPOCHREALTIME
  mkdir -p "$KTP_DIR"
  # After Ctrl-C `just` returns at once while the stages of the run it started finish what
  # is in flight; a rerun started meanwhile would have its files removed by that run's end.
  # Every process of a run holds this lock (the stages inherit it), so a rerun waits.
  exec {KTP_LOCK_FD}>"$KTP_DIR/.lock"
  if ! flock -n "$KTP_LOCK_FD"; then
    echo "$KTP_DATASET: waiting for an earlier run still writing $KTP_DIR to end" >&2
    flock "$KTP_LOCK_FD"
  fi
  rm -rf "$KTP_STAGES"
  mkdir -p "$KTP_STAGES"
  rm -f "$KTP_DIR/.gen.jsonl.partial" "$KTP_DIR/.rejects.jsonl.partial"
}

# stage NAME TOOL ARGS...: runs one filter of the pipeline. llm-call also gets the run-wide
# teacher settings from KTP_LLM_FLAGS (cache, shared budget, concurrency).
stage() {
  local name=$1 tool=$2
  shift 2
  # The report at the end gives every stage's summary; only llm-call keeps talking on
  # stderr while it runs, for its progress.
  local extra=(-q)
  if [ "$tool" = llm-call ]; then
    extra=("${KTP_LLM_FLAGS[@]}")
  fi
  # Bash forks the stages of a pipeline left to right, so their PIDs give the pipeline
  # order (ktp_stage_order), which the rejects file and the report follow.
  echo "$BASHPID $name" >>"$KTP_STAGES/order"
  local rc=0
  "$tool" "$@" "${extra[@]}" --stage "$KTP_DATASET/$name" \
    --stats "$KTP_STAGES/$name.stats.json" --rejects "$KTP_STAGES/$name.rejects.jsonl" || rc=$?
  # Records a stage sets aside as data (off-format replies, unfaithful answers) go to its
  # rejects file with exit 0; a non-zero exit is a failure (records lost to a teacher
  # outage, bad input, a crash) and fails the recipe, so gen.jsonl is never published
  # without them. A rerun answers what was finished from the cache.
  if [ "$rc" -ne 0 ]; then
    echo "$name (exit $rc)" >>"$KTP_STAGES/failed"
    return "$rc"
  fi
  return 0
}

# ktp_stage_order ORDER_FILE: the stage names in pipeline order, from the `PID NAME` lines
# the stages wrote. PIDs wrap around (at 32,768 on many systems, at most 2^22), and a
# pipeline's stages are forked within far fewer than 16,384 PIDs: when its PIDs lie further
# apart, the low ones were forked after the wrap and come last. run-report's folder.rs
# applies the same rule.
ktp_stage_order() {
  awk 'NR == FNR { if (FNR == 1 || $1 > max) max = $1; if (FNR == 1 || $1 < min) min = $1; next }
       { print ((max - min > 16384 && $1 < max - 16384) ? $1 + 4194304 : $1), $2 }' "$1" "$1" |
    sort -n | cut -d' ' -f2
}

# ktp_finish PIPELINE_STATUS: publishes the dataset or reports the failed stages.
ktp_finish() {
  local rc=$1 dataset_dir=$KTP_DIR
  if [ -s "$KTP_STAGES/failed" ] || [ "$rc" -ne 0 ]; then
    rm -f "$dataset_dir/.gen.jsonl.partial"
    local failed
    failed=$(paste -sd, "$KTP_STAGES/failed" 2>/dev/null || true)
    echo "$KTP_DATASET: failed at stage ${failed:-unknown (exit $rc)}; gen.jsonl not written" >&2
    ktp_stamp failed
    return 1
  fi
  local stats=() rejects=() name
  while read -r name; do
    stats+=("$KTP_STAGES/$name.stats.json")
    if [ -f "$KTP_STAGES/$name.rejects.jsonl" ]; then
      rejects+=("$KTP_STAGES/$name.rejects.jsonl")
    fi
  done < <(ktp_stage_order "$KTP_STAGES/order")
  # One cat for all the files (and none for none): each process costs a fork and an exec.
  if [ ${#rejects[@]} -gt 0 ]; then
    cat "${rejects[@]}" >"$dataset_dir/.rejects.jsonl.partial"
  else
    : >"$dataset_dir/.rejects.jsonl.partial"
  fi
  mv "$dataset_dir/.rejects.jsonl.partial" "$dataset_dir/rejects.jsonl"
  mv "$dataset_dir/.gen.jsonl.partial" "$dataset_dir/gen.jsonl"
  ktp_stamp ok
  stage-report "${stats[@]}"
  echo "$KTP_DATASET: $(wc -l <"$dataset_dir/gen.jsonl") rows in $dataset_dir/gen.jsonl, $(wc -l <"$dataset_dir/rejects.jsonl") rejects in $dataset_dir/rejects.jsonl" >&2
}

# ktp_stamp STATUS: what run-report needs of this run and nothing else can tell it, in
# .stages/run.txt as name=value lines: the times, the teacher (its host, never the URL's
# credentials or the key) and every setting the Justfile lists (KTP_SETTINGS).
ktp_stamp() {
  local url=${TEACHER_MODEL_BASE_URL:-} now=$EPOCHREALTIME host name value
  host=${url#*://}
  host=${host%%/*}
  host=${host##*@}
  {
    echo "dataset=$KTP_DATASET"
    echo "status=$1"
    echo "started=$KTP_STARTED"
    echo "finished=$now"
    TZ=UTC printf 'started_at=%(%Y-%m-%dT%H:%M:%SZ)T\n' "${KTP_STARTED%.*}"
    TZ=UTC printf 'finished_at=%(%Y-%m-%dT%H:%M:%SZ)T\n' "${now%.*}"
    echo "model=${TEACHER_MODEL_NAME:-}"
    echo "host=$host"
    for name in $KTP_SETTINGS; do
      value=${!name:-}
      echo "setting.$name=${value//$'\n'/ }"
    done
  } >"$KTP_STAGES/run.txt"
}

# cap TOKENS: the stage's max tokens, lowered to KTP_TOKEN_CAP when that is set (> 0).
cap() {
  if [ "${KTP_TOKEN_CAP:-0}" -gt 0 ] && [ "$KTP_TOKEN_CAP" -lt "$1" ]; then
    echo "$KTP_TOKEN_CAP"
  else
    echo "$1"
  fi
}
