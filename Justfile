# ktpipe: knowledge-tuning datasets from seed documents and a teacher model.
# Each dataset recipe is one pipeline of the five filters (seed-cat, prompt-render,
# llm-call, qa-parse, jsonl-split). Override any setting on the command line:
#   just seed=my_seed.jsonl n_summaries=10 generate-all
# or in the environment or a .env file (n_summaries=10). Relative paths are relative to
# this file's folder. The teacher endpoint comes from the environment or .env:
# TEACHER_MODEL_BASE_URL, TEACHER_MODEL_NAME, TEACHER_MODEL_API_KEY.
#
# Settings are the public variables (`just --variables` lists them); names that begin with
# '_' are derived. Every variable is exported, so a recipe that runs `just` again (one
# process per dataset in generate-all, one per shard) passes the settings on by itself.

set dotenv-load
set export
set shell := ["bash", "-euo", "pipefail", "-c"]

# The datasets generate-all makes: each is a folder under `out` and a recipe `_<name>`.
datasets := env("datasets", "extractive_summary detailed_summary key_facts_to_qa document_based_qa")
# Seed rows (one JSON object per line: document, document_outline, domain, icl_*).
seed := env("seed", "output/step_01/seed_data.jsonl")
# Where the dataset folders, the response cache and the concurrency budget go.
out := env("out", "output/step_02")
# Summaries per seed document in the two summary recipes.
n_summaries := env("n_summaries", "50")
# Requests in flight at the teacher for the whole run, all stages and recipes together.
concurrency := env("concurrency", "50")
# Use a seeded sample of this many seed rows (0 = all).
subsample := env("subsample", "0")
# "on" raises the token budgets for reasoning teachers and keeps the answer's reasoning trace.
reasoning := env("reasoning", "off")
# Upper bound on every stage's max tokens (0 = the recipe defaults); the demo uses it.
token_cap := env("token_cap", "0")
# "on" asks for streamed replies: one that stays silent for idle_timeout seconds is retried
# at once. "off" (whole replies) costs the client and the teacher less per reply; one the
# teacher never answers is sent again after the longer of 5 s and 4 × the slowest reply of
# its stage, or a minute before its first reply (llm-call --hedge-after, which llm_flags
# can set).
stream := env("stream", "off")
# Seconds a streamed reply may stay silent before llm-call abandons and retries it.
idle_timeout := env("idle_timeout", "30")
# Near-duplicate questions within a seed document are set aside before they are answered:
# "off", or the similarity from which two questions are one (above 0, at most 1; see
# `jsonl-split --help`, --dedup).
dedup := env("dedup", "0.7")
# Extra flags for every llm-call stage (e.g. "--retry-base-ms 100 --max-attempts 4").
llm_flags := env("llm_flags", "")
# The sample seed shipped with ktpipe, for demos and tests.
sample_seed := env("sample_seed", "tests/fixtures/sample_seed.jsonl")
# generate-sharded: shards of the seed (by seed_id), each a generate-all of its own.
shards := env("shards", "4")
# generate-sharded: GNU parallel sshlogins, comma-separated, or an --sshloginfile ("" = here).
hosts := env("hosts", "")

_root := justfile_directory()
_bin := env_var_or_default("KTPIPE_BIN", _root / "target/release")
_summary_tokens := if reasoning == "on" { "6000" } else { "4096" }
_summary_question_tokens := if reasoning == "on" { "1024" } else { "256" }
_document_question_tokens := if reasoning == "on" { "2048" } else { "256" }
_answer_reasoning := if reasoning == "on" { "--reasoning-to parse_response_dict_reasoning_content" } else { "" }
_stream_flag := if stream == "on" { "--stream" } else { "--no-stream" }
_dedup_flags := if dedup == "off" { "" } else { "--dedup question --dedup-threshold " + quote(dedup) }
_seed_flags := if subsample == "0" { "" } else { "--sample " + subsample }
# When a teacher forgets the tags: question lines ending in '?' (numbered, bulleted, quoted
# or bare); an explanation whose last word is the verdict, or a line that is only the
# verdict (labelled or not).
_question_lines := '(?im)^[ \t]*(?:\[QUESTION\][ \t]*)?(?:\d+[.)][ \t]+|[-*][ \t]+)?([^\n\[\]]{8,}\?)[ \t*_"”]*(?:answer:)?[ \t]*$'
# Replies without even that are asked for again (a sampling teacher often gets it right).
_question_reply := '\[QUESTION\]|\?'
_verdict_reply := '(?i)\b(yes|no)\b'
_verdict_alone := '(?ims)\A(.*?)^[ \t*_\[(#>-]*(?:(?:final[ \t]+)?(?:verdict|answer|judge?ment|decision)[ \t*_]*[:-][ \t*_]*)?(yes|no)\b[ \t*_.!\])]*$'
# "The answer is yes." anywhere: the whole reply is the explanation.
_verdict_said := '(?is)^(?=(.*))(?:.*?)\bthe answer\b[^\n.]{0,40}?\bis\W{0,3}(?:indeed\W+|clearly\W+)?(yes|no)\b'
_verdict_line := '(?is)^(.*?)[\s*_]*(?:\[Start of Answer\])?[\s*_]*(?:(?:final\s+)?(?:verdict|answer|judge?ment|decision)[\s*_]*[:-][\s*_]*)?\b(yes|no)\b[\s.!*_]*(?:\[End of Answer\])?\s*\z'
# The key facts' section under another heading level, bold, or in another case.
_facts_section := '(?im)^[#* \t]*key facts with context[*: \t]*\n(.*)'
_qa_fields := "--require icl_document --require icl_query_1 --require icl_query_2 --require icl_query_3"
_setup := "source " + quote(_root / "scripts/recipe-lib.sh") + "; cd " + quote(_root) + "; export PATH=" + quote(_bin) + ":$PATH; KTP_ROOT=" + quote(_root) + "; KTP_TOKEN_CAP=" + token_cap + "; KTP_LLM_FLAGS=(--cache " + quote(out / "cache.sqlite") + " --shared-budget " + quote(out / ".budget") + " --concurrency " + concurrency + " " + _stream_flag + " --idle-timeout " + idle_timeout + " " + llm_flags + ")"

# List the recipes.
default:
    @just --list --unsorted

# Every dataset in `datasets` side by side, sharing one teacher budget: output/step_02/*/gen.jsonl.
generate-all: _build (_check _qa_fields)
    #!/usr/bin/env bash
    set -uo pipefail
    pids=() names=({{datasets}})
    for name in "${names[@]}"; do
      {{quote(just_executable())}} --justfile {{quote(justfile())}} "_$name" &
      pids+=($!)
    done
    failed=()
    for i in "${!pids[@]}"; do
      wait "${pids[$i]}" || failed+=("${names[$i]}")
    done
    if [ ${#failed[@]} -gt 0 ]; then
      echo "generate-all: failed: ${failed[*]}" >&2
      exit 1
    fi
    echo "generate-all: datasets in {{out}}/{$(IFS=,; echo "${names[*]}")}/gen.jsonl" >&2

# Extractive summaries (n_summaries per document) -> questions -> answers, faithfulness-filtered.
extractive-summary: _build (_check _qa_fields) _extractive_summary

# Detailed, thematic summaries (n_summaries per document) -> questions -> answers, faithfulness-filtered.
detailed-summary: _build (_check _qa_fields) _detailed_summary

# Atomic key facts of each document -> five question/answer pairs per fact.
key-facts: _build (_check "") _key_facts_to_qa

# Questions on the raw document -> answers, faithfulness-filtered.
document-qa: _build (_check _qa_fields) _document_based_qa

# generate-all on the sample seed shipped in tests/fixtures.
generate-sample:
    @{{quote(just_executable())}} --justfile {{quote(justfile())}} seed={{quote(sample_seed)}} generate-all

# generate-all on `shards` shards of the seed with GNU parallel (over ssh on `hosts`), merged into out/*/gen.jsonl.
generate-sharded: _build (_check _qa_fields)
    @KTP_ROOT={{quote(_root)}} KTP_JUST={{quote(just_executable())}} KTP_BIN={{quote(_bin)}} \
      {{quote(_root / "scripts/shard-run")}} {{quote(out)}} {{quote(seed)}} {{quote(shards)}} {{quote(hosts)}}

# Run the mock teacher on loopback (prints its base URL), for trying ktpipe without an endpoint.
mock-teacher *args: _build
    @{{quote(_bin / "mock-teacher")}} {{args}}

# The whole test suite (format, lints, unit, CLI and recipe tests), as CI runs it.
test:
    scripts/test

# Benchmarks generate-all against the latency mock (see BENCHMARKS.md).
bench:
    scripts/bench

# The demo on the embedded local teacher (installs it on first use).
demo:
    scripts/demo

_build:
    @if [ -z "${KTPIPE_BIN:-}" ]; then cargo build --release --locked --quiet --workspace; fi

# Validates every seed row and the dedup setting before any request is made.
_check require:
    @{{quote(_bin / "seed-cat")}} --check -q {{require}} {{quote(seed)}}
    @{{quote(_bin / "jsonl-split")}} -q {{_dedup_flags}} </dev/null 2>/dev/null || { echo "dedup must be 'off' or a similarity above 0 and at most 1, not '{{dedup}}'" >&2; exit 2; }

_extractive_summary: (_summary-qa "extractive_summary" "extractive_summary.yaml")

_detailed_summary: (_summary-qa "detailed_summary" "detailed_summary.yaml")

_summary-qa dataset prompt:
    #!/usr/bin/env bash
    set -euo pipefail
    {{_setup}}
    ktp_begin {{dataset}} {{quote(out)}}
    set +e
    stage seeds seed-cat {{_seed_flags}} {{quote(seed)}} \
      | stage summary-prompts prompt-render --template prompts/{{prompt}} \
      | stage summaries llm-call -n {{n_summaries}} --temperature 0.7 --max-tokens "$(cap {{_summary_tokens}})" --to document \
      | stage summary-habits qa-parse --from document --start '' --end '' --to document --no-index --habits \
      | stage question-prompts prompt-render --template prompts/questions.yaml \
      | stage questions llm-call --temperature 0.7 --max-tokens "$(cap {{_summary_question_tokens}})" --to question_list --no-index --expect {{quote(_question_reply)}} \
      | stage question-split qa-parse --from question_list --start '[QUESTION]' --end '[END]' --to question \
          --fallback-regex {{quote(_question_lines)}} --habits \
      | stage question-repeats jsonl-split {{_dedup_flags}} \
      | stage answer-prompts prompt-render --template prompts/answer.yaml \
      | stage answers llm-call --temperature 0.7 --max-tokens "$(cap 4096)" --to response {{_answer_reasoning}} --no-index \
      | stage answer-habits qa-parse --from response --start '' --end '' --to response --no-index --habits \
      | stage judge-prompts prompt-render --template prompts/faithfulness.yaml \
      | stage judgments llm-call --temperature 0.7 --max-tokens "$(cap 2048)" --to judgment --no-index --expect {{quote(_verdict_reply)}} \
          --stop '[End of Answer]' \
      | stage judgment-split qa-parse --from judgment --no-index \
          --start '[Start of Explanation]' --end '[End of Explanation]' --to faithfulness_explanation \
          --start '[Start of Answer]' --end '[End of Answer]' --to faithfulness_judgment \
          --fallback-regex {{quote(_verdict_line)}} --fallback-regex {{quote(_verdict_alone)}} \
          --fallback-regex {{quote(_verdict_said)}} \
          --cleanup '[Start of Explanation]' --cleanup '[End of Explanation]' \
          --normalize faithfulness_judgment --habits \
      | stage faithful jsonl-split --where 'faithfulness_judgment == "YES"' \
      >"$KTP_DIR/.gen.jsonl.partial"
    ktp_finish $?

_key_facts_to_qa:
    #!/usr/bin/env bash
    set -euo pipefail
    {{_setup}}
    ktp_begin key_facts_to_qa {{quote(out)}}
    set +e
    stage seeds seed-cat {{_seed_flags}} {{quote(seed)}} \
      | stage fact-prompts prompt-render --template prompts/key_facts.yaml \
      | stage facts llm-call --temperature 0.7 --max-tokens "$(cap {{_summary_tokens}})" --to key_facts_reply --no-index \
      | stage facts-section qa-parse --from key_facts_reply --no-index \
          --start '### Key Facts With Context' --end '' --to document \
          --fallback-regex {{quote(_facts_section)}} \
      | stage fact-split qa-parse --from document --keep-source \
          --regex '(?:^|\n)\s*\d+\.\s+(.*?)(?=\n\s*\d+\.\s+|\Z)' --to key_fact --habits \
      | stage qa-prompts prompt-render --template prompts/qa_pairs.yaml \
      | stage qa-pairs llm-call --temperature 0.7 --max-tokens "$(cap {{_summary_tokens}})" --to qa_reply --no-index \
      | stage qa-split qa-parse --from qa_reply \
          --start '[QUESTION]' --end '[END]' --to question \
          --start '[ANSWER]' --end '[END]' --to response --habits \
      | stage repeats jsonl-split {{_dedup_flags}} \
      >"$KTP_DIR/.gen.jsonl.partial"
    ktp_finish $?

_document_based_qa:
    #!/usr/bin/env bash
    set -euo pipefail
    {{_setup}}
    ktp_begin document_based_qa {{quote(out)}}
    set +e
    stage seeds seed-cat --raw-field base_document {{_seed_flags}} {{quote(seed)}} \
      | stage question-prompts prompt-render --template prompts/questions.yaml \
      | stage questions llm-call --temperature 1.0 --max-tokens "$(cap {{_document_question_tokens}})" --to question_list --no-index --expect {{quote(_question_reply)}} \
      | stage question-split qa-parse --from question_list --start '[QUESTION]' --end '[END]' --to question \
          --fallback-regex {{quote(_question_lines)}} --habits \
      | stage question-repeats jsonl-split {{_dedup_flags}} \
      | stage answer-prompts prompt-render --template prompts/answer.yaml \
      | stage answers llm-call --temperature 1.0 --max-tokens "$(cap 4096)" --to response {{_answer_reasoning}} --no-index \
      | stage answer-habits qa-parse --from response --start '' --end '' --to response --no-index --habits \
      | stage judge-prompts prompt-render --template prompts/faithfulness.yaml \
      | stage judgments llm-call --temperature 1.0 --max-tokens "$(cap 2048)" --to judgment --no-index --expect {{quote(_verdict_reply)}} \
          --stop '[End of Answer]' \
      | stage judgment-split qa-parse --from judgment --no-index \
          --start '[Start of Explanation]' --end '[End of Explanation]' --to faithfulness_explanation \
          --start '[Start of Answer]' --end '[End of Answer]' --to faithfulness_judgment \
          --fallback-regex {{quote(_verdict_line)}} --fallback-regex {{quote(_verdict_alone)}} \
          --fallback-regex {{quote(_verdict_said)}} \
          --cleanup '[Start of Explanation]' --cleanup '[End of Explanation]' \
          --normalize faithfulness_judgment --habits \
      | stage faithful jsonl-split --where 'faithfulness_judgment == "YES"' \
      >"$KTP_DIR/.gen.jsonl.partial"
    ktp_finish $?
