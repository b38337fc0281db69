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

# Step numbers: this step's documents read output/step_01 and write output/step_02; the
# current example workflow's numbering is `just seed=output/step_02/seed_data.jsonl
# out=output/step_03 generate-all`.

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
# "on": the summary recipes stop after their summaries and write them as continued-pre-training
# text, one row per summary, to <out>/{extractive_summary,detailed_summary,key_facts}_cpt/;
# document-qa, which has no summaries, copies the seed documents to document_based_cpt/
# without a request. The folder names are the ones the example's mixing step reads.
cpt := env("cpt", "off")
# The language the teacher writes summaries, questions, answers, facts and explanations in
# (a name such as "Japanese"); "" asks for none, so the teacher keeps the document's.
language := env("language", "")
# The folder of the seven prompt templates (see the README for sdg_hub's file names).
prompts := env("prompts", "prompts")
# Extra flags for every llm-call stage (e.g. "--retry-base-ms 100 --max-attempts 4").
llm_flags := env("llm_flags", "")
# The sample seed shipped with ktpipe, for demos and tests.
sample_seed := env("sample_seed", "tests/fixtures/sample_seed.jsonl")
# generate-sharded: shards of the seed (by seed_id), each a generate-all of its own.
shards := env("shards", "4")
# generate-sharded: GNU parallel sshlogins, comma-separated, or an --sshloginfile ("" = here).
hosts := env("hosts", "")

_root := justfile_directory()
# Relative paths are relative to this folder, or to KTPIPE_CALLER_DIR when that is set: the
# ktpipe command of the Python package sets it to the folder it was run from.
_base := env("KTPIPE_CALLER_DIR", _root)
_seed := join(_base, seed)
# The folders the run writes: with cpt=on each dataset's pre-training folder, named as the
# reference names them (the dataset without its _qa or _to_qa ending, then _cpt).
_folders := if cpt == "on" { replace_regex(datasets, '(\w+?)(_to_qa|_qa)?(\s|$)', '${1}_cpt${3}') } else { datasets }
# The default is the prompts shipped beside this file; another folder is the caller's.
_prompts := if prompts == "prompts" { "prompts" } else { join(_base, prompts) }
_out := join(_base, out)
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
# With cpt=on no recipe asks for questions, so the ICL fields are not needed.
_qa_fields := if cpt == "on" { "" } else { "--require icl_document --require icl_query_1 --require icl_query_2 --require icl_query_3" }
# Every prompt-render stage gets the language (empty: the templates ask for none).
_lang := "--set " + quote("language=" + language)
_setup := "source " + quote(_root / "scripts/recipe-lib.sh") + "; cd " + quote(_root) + "; export PATH=" + quote(_bin) + ":$PATH; KTP_ROOT=" + quote(_root) + "; KTP_TOKEN_CAP=" + token_cap + "; KTP_SETTINGS=$(" + quote(just_executable()) + " --justfile " + quote(justfile()) + " --variables); KTP_LLM_FLAGS=(--cache " + quote(_out / "cache.sqlite") + " --shared-budget " + quote(_out / ".budget") + " --concurrency " + concurrency + " " + _stream_flag + " --idle-timeout " + idle_timeout + " " + llm_flags + ")"

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
    # The report shows failed datasets too, so it is written either way.
    {{quote(_bin / "run-report")}} --datasets {{quote(_folders)}} {{quote(_out)}} || true
    if [ ${#failed[@]} -gt 0 ]; then
      echo "generate-all: failed: ${failed[*]}" >&2
      exit 1
    fi
    if [ "$cpt" = on ]; then
      echo "generate-all: pre-training text in {{_out}}/*_cpt/gen.jsonl" >&2
    else
      echo "generate-all: datasets in {{_out}}/{$(IFS=,; echo "${names[*]}")}/gen.jsonl" >&2
    fi

# Extractive summaries (n_summaries per document) -> questions -> answers, faithfulness-filtered.
extractive-summary: _build (_check _qa_fields) _extractive_summary

# Detailed, thematic summaries (n_summaries per document) -> questions -> answers, faithfulness-filtered.
detailed-summary: _build (_check _qa_fields) _detailed_summary

# Atomic key facts of each document -> five question/answer pairs per fact.
key-facts: _build (_check "") _key_facts_to_qa

# Questions on the raw document -> answers, faithfulness-filtered.
document-qa: _build (_check _qa_fields) _document_based_qa

# The run's report (out/report.html) and a dataset card per dataset (out/<dataset>/README.md); generate-all writes them too.
report: _build
    @{{quote(_bin / "run-report")}} --datasets {{quote(_folders)}} {{quote(_out)}}

# generate-all on the sample seed shipped in tests/fixtures.
generate-sample:
    @{{quote(just_executable())}} --justfile {{quote(justfile())}} seed={{quote(join(_root, sample_seed))}} generate-all

# generate-all on `shards` shards of the seed with GNU parallel (over ssh on `hosts`), merged into out/*/gen.jsonl.
generate-sharded: _build (_check _qa_fields)
    @if [ "$cpt" != off ]; then echo "generate-sharded makes the question datasets only; run cpt=on with generate-all" >&2; exit 2; fi
    @KTP_ROOT={{quote(_root)}} KTP_JUST={{quote(just_executable())}} KTP_BIN={{quote(_bin)}} \
      bash {{quote(_root / "scripts/shard-run")}} {{quote(_out)}} {{quote(_seed)}} {{quote(shards)}} {{quote(hosts)}}

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

# Validates every seed row, the settings and the prompt templates before any request is made.
_check require: _check-settings
    @{{quote(_bin / "seed-cat")}} --check -q {{require}} {{quote(_seed)}}
    @{{quote(_bin / "jsonl-split")}} -q {{_dedup_flags}} </dev/null 2>/dev/null || { echo "dedup must be 'off' or a similarity above 0 and at most 1, not '{{dedup}}'" >&2; exit 2; }

# cpt, language and prompts; each of the seven templates against the fields its stage's
# records carry (a variable outside them is an error) and the ones it must read.
_check-settings:
    #!/usr/bin/env bash
    set -euo pipefail
    fail() { echo "$1" >&2; exit 2; }
    case "$cpt" in on|off) ;; *) fail "cpt must be 'on' or 'off', not '$cpt'" ;; esac
    # A name, not a sentence: no digits, brackets, braces or control characters, which
    # could pass for the markers or template syntax the recipes rely on.
    if [ ${#language} -gt 60 ] || [[ $language =~ [[:cntrl:][:digit:]{}\<\>] ]] || [[ $language == *[\[\]]* ]]; then
      fail "language must be the name of a language (e.g. 'Japanese'), not '$language'"
    fi
    # Checked here so a missing endpoint is one message before any stage starts.
    if [ -z "${TEACHER_MODEL_BASE_URL:-}" ] && [[ $llm_flags != *--base-url* ]]; then
      fail "no teacher endpoint: set TEACHER_MODEL_BASE_URL in the environment or .env ('just mock-teacher' serves one on loopback)"
    fi
    prompts={{quote(_prompts)}}
    [ -d "$prompts" ] || fail "prompts: no folder '$prompts'"
    seed=document,document_outline,domain,seed_id
    icl=icl_document,icl_query_1,icl_query_2,icl_query_3
    # check TEMPLATE FIELDS VARIABLE...: the template reads only FIELDS and reads every VARIABLE.
    check() {
      local file=$prompts/$1 fields=$2 needs=()
      shift 2
      [ -f "$file" ] || fail "prompts: '$file' is missing; a prompts folder holds all seven templates (answer, detailed_summary, extractive_summary, faithfulness, key_facts, qa_pairs, questions .yaml)"
      for var in "$@"; do needs+=(--must-read "$var"); done
      {{quote(_bin / "prompt-render")}} --check -q --template "$file" {{_lang}} --fields "$fields" "${needs[@]}" || exit 2
      if [ -n "$language" ] && ! {{quote(_bin / "prompt-render")}} --check -q --template "$file" --must-read language 2>/dev/null; then
        fail "language='$language': template '$file' never reads {{{{ language }}, so it cannot ask for that language (leave language empty with prompts written in it)"
      fi
    }
    check extractive_summary.yaml "$seed,$icl" document
    check detailed_summary.yaml "$seed,$icl" document
    check questions.yaml "$seed,$icl" document
    check answer.yaml "$seed,$icl,question" document question
    check faithfulness.yaml "$seed,$icl,question,response" document response
    check key_facts.yaml "$seed" document
    check qa_pairs.yaml "$seed,key_fact" key_fact

_extractive_summary: (_summary-qa "extractive_summary" "extractive_summary.yaml")

_detailed_summary: (_summary-qa "detailed_summary" "detailed_summary.yaml")

_summary-qa dataset prompt:
    #!/usr/bin/env bash
    set -euo pipefail
    {{_setup}}
    if [ "$cpt" = on ]; then
      # Pre-training text: each summary is a row, its seed document kept as raw_document.
      ktp_begin {{dataset}}_cpt {{quote(_out)}}
      set +e
      stage seeds seed-cat {{_seed_flags}} {{quote(_seed)}} \
        | stage summary-prompts prompt-render --template {{quote(_prompts / prompt)}} {{_lang}} \
        | stage summaries llm-call -n {{n_summaries}} --temperature 0.7 --max-tokens "$(cap {{_summary_tokens}})" --to document \
        | stage summary-habits qa-parse --from document --start '' --end '' --to document --no-index --habits \
        >"$KTP_DIR/.gen.jsonl.partial"
      ktp_finish $?
      exit
    fi
    ktp_begin {{dataset}} {{quote(_out)}}
    set +e
    stage seeds seed-cat {{_seed_flags}} {{quote(_seed)}} \
      | stage summary-prompts prompt-render --template {{quote(_prompts / prompt)}} {{_lang}} \
      | stage summaries llm-call -n {{n_summaries}} --temperature 0.7 --max-tokens "$(cap {{_summary_tokens}})" --to document \
      | stage summary-habits qa-parse --from document --start '' --end '' --to document --no-index --habits \
      | stage question-prompts prompt-render --template {{quote(_prompts / "questions.yaml")}} {{_lang}} \
      | stage questions llm-call --temperature 0.7 --max-tokens "$(cap {{_summary_question_tokens}})" --to question_list --no-index --expect {{quote(_question_reply)}} \
      | stage question-split qa-parse --from question_list --start '[QUESTION]' --end '[END]' --to question \
          --fallback-regex {{quote(_question_lines)}} --habits \
      | stage question-repeats jsonl-split {{_dedup_flags}} \
      | stage answer-prompts prompt-render --template {{quote(_prompts / "answer.yaml")}} {{_lang}} \
      | stage answers llm-call --temperature 0.7 --max-tokens "$(cap 4096)" --to response {{_answer_reasoning}} --no-index \
      | stage answer-habits qa-parse --from response --start '' --end '' --to response --no-index --habits \
      | stage judge-prompts prompt-render --template {{quote(_prompts / "faithfulness.yaml")}} {{_lang}} \
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
    if [ "$cpt" = on ]; then
      # Pre-training text: the facts rewritten to stand alone, one row per seed document.
      ktp_begin key_facts_cpt {{quote(_out)}}
      set +e
      stage seeds seed-cat {{_seed_flags}} {{quote(_seed)}} \
        | stage fact-prompts prompt-render --template {{quote(_prompts / "key_facts.yaml")}} {{_lang}} \
        | stage facts llm-call --temperature 0.7 --max-tokens "$(cap {{_summary_tokens}})" --to key_facts_reply --no-index \
        | stage facts-section qa-parse --from key_facts_reply --no-index \
            --start '### Key Facts With Context' --end '' --to document \
            --fallback-regex {{quote(_facts_section)}} \
        >"$KTP_DIR/.gen.jsonl.partial"
      ktp_finish $?
      exit
    fi
    ktp_begin key_facts_to_qa {{quote(_out)}}
    set +e
    stage seeds seed-cat {{_seed_flags}} {{quote(_seed)}} \
      | stage fact-prompts prompt-render --template {{quote(_prompts / "key_facts.yaml")}} {{_lang}} \
      | stage facts llm-call --temperature 0.7 --max-tokens "$(cap {{_summary_tokens}})" --to key_facts_reply --no-index \
      | stage facts-section qa-parse --from key_facts_reply --no-index \
          --start '### Key Facts With Context' --end '' --to document \
          --fallback-regex {{quote(_facts_section)}} \
      | stage fact-split qa-parse --from document --keep-source \
          --regex '(?:^|\n)\s*\d+\.\s+(.*?)(?=\n\s*\d+\.\s+|\Z)' --to key_fact --habits \
      | stage qa-prompts prompt-render --template {{quote(_prompts / "qa_pairs.yaml")}} {{_lang}} \
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
    if [ "$cpt" = on ]; then
      # No summaries to train on: the seed documents themselves, as the reference does.
      ktp_begin document_based_cpt {{quote(_out)}}
      set +e
      stage seeds seed-cat {{_seed_flags}} {{quote(_seed)}} >"$KTP_DIR/.gen.jsonl.partial"
      ktp_finish $?
      exit
    fi
    ktp_begin document_based_qa {{quote(_out)}}
    set +e
    stage seeds seed-cat --raw-field base_document {{_seed_flags}} {{quote(_seed)}} \
      | stage question-prompts prompt-render --template {{quote(_prompts / "questions.yaml")}} {{_lang}} \
      | stage questions llm-call --temperature 1.0 --max-tokens "$(cap {{_document_question_tokens}})" --to question_list --no-index --expect {{quote(_question_reply)}} \
      | stage question-split qa-parse --from question_list --start '[QUESTION]' --end '[END]' --to question \
          --fallback-regex {{quote(_question_lines)}} --habits \
      | stage question-repeats jsonl-split {{_dedup_flags}} \
      | stage answer-prompts prompt-render --template {{quote(_prompts / "answer.yaml")}} {{_lang}} \
      | stage answers llm-call --temperature 1.0 --max-tokens "$(cap 4096)" --to response {{_answer_reasoning}} --no-index \
      | stage answer-habits qa-parse --from response --start '' --end '' --to response --no-index --habits \
      | stage judge-prompts prompt-render --template {{quote(_prompts / "faithfulness.yaml")}} {{_lang}} \
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
