"""Kubeflow Pipelines (KFP v2): a component that runs generate-all on a seed artifact and
returns the four datasets and the report as artifacts, and a pipeline that puts it after a
seed artifact, where the example workflow's knowledge-generation step is.

    python -m ktpipe.pipeline compile pipeline.yaml      # the pipeline for a cluster
    python -m ktpipe.pipeline run-local --seed S --base-url U --model M --root DIR

The teacher's settings are parameters; its key is never one: on a cluster the task reads
TEACHER_MODEL_API_KEY from the Kubernetes secret named by --secret (key `api_key`). Needs
the `kfp` extra: pip install 'ktpipe[kfp]'.
"""

import argparse
import json
import sys
from typing import NamedTuple

from kfp import compiler, dsl, kubernetes

# The component's outputs, one per dataset of generate-all (KFP needs them declared).
DATASETS = ("extractive_summary", "detailed_summary", "key_facts_to_qa", "document_based_qa")


def generate_knowledge(
    seed: dsl.Input[dsl.Dataset],
    teacher_base_url: str,
    teacher_model: str,
    extractive_summary: dsl.Output[dsl.Dataset],
    detailed_summary: dsl.Output[dsl.Dataset],
    key_facts_to_qa: dsl.Output[dsl.Dataset],
    document_based_qa: dsl.Output[dsl.Dataset],
    report: dsl.Output[dsl.HTML],
    n_summaries: int = 50,
    concurrency: int = 50,
    subsample: int = 0,
    dedup: str = "0.7",
    reasoning: str = "off",
    language: str = "",
):
    """Runs `ktpipe generate-all` on the seed; each dataset artifact is a folder with
    gen.jsonl, rejects.jsonl and its dataset card."""
    # KFP runs this function on its own, so everything it uses is imported here.
    import os
    import shutil
    import subprocess
    import sys
    import tempfile

    ktpipe = shutil.which("ktpipe") or os.path.join(os.path.dirname(sys.executable), "ktpipe")
    out = tempfile.mkdtemp(prefix="ktpipe-")
    env = dict(os.environ, TEACHER_MODEL_BASE_URL=teacher_base_url, TEACHER_MODEL_NAME=teacher_model)
    settings = [
        f"seed={seed.path}",
        f"out={out}",
        f"n_summaries={n_summaries}",
        f"concurrency={concurrency}",
        f"subsample={subsample}",
        f"dedup={dedup}",
        f"reasoning={reasoning}",
        f"language={language}",
    ]
    subprocess.run([ktpipe, "generate-all", *settings], check=True, env=env)
    artifacts = {
        "extractive_summary": extractive_summary,
        "detailed_summary": detailed_summary,
        "key_facts_to_qa": key_facts_to_qa,
        "document_based_qa": document_based_qa,
    }
    for name, artifact in artifacts.items():
        shutil.copytree(
            os.path.join(out, name), artifact.path, ignore=shutil.ignore_patterns(".*")
        )
    shutil.copyfile(os.path.join(out, "report.html"), report.path)


def component(package: str = "ktpipe", base_image: str = "python:3.11-slim"):
    """The component, installing `package` (a name, or a wheel's URL or path) in `base_image`;
    an empty package means the image already has ktpipe."""
    return dsl.component(
        func=generate_knowledge,
        base_image=base_image,
        packages_to_install=[package] if package else [],
    )


class Outputs(NamedTuple):
    extractive_summary: dsl.Dataset
    detailed_summary: dsl.Dataset
    key_facts_to_qa: dsl.Dataset
    document_based_qa: dsl.Dataset
    report: dsl.HTML


def pipeline(package: str = "ktpipe", base_image: str = "python:3.11-slim", secret: str = "teacher-api-key"):
    """The pipeline: the seed artifact at `seed_uri`, then generate-all on it."""
    generate = component(package, base_image)

    @dsl.pipeline(
        name="ktpipe-knowledge-generation",
        description="Knowledge-tuning datasets from a seed artifact with a teacher model (ktpipe generate-all).",
    )
    def knowledge_generation(
        seed_uri: str,
        teacher_base_url: str,
        teacher_model: str,
        n_summaries: int = 50,
        concurrency: int = 50,
        subsample: int = 0,
        dedup: str = "0.7",
        reasoning: str = "off",
        language: str = "",
    ) -> Outputs:
        seed = dsl.importer(artifact_uri=seed_uri, artifact_class=dsl.Dataset, reimport=False)
        task = generate(
            seed=seed.output,
            teacher_base_url=teacher_base_url,
            teacher_model=teacher_model,
            n_summaries=n_summaries,
            concurrency=concurrency,
            subsample=subsample,
            dedup=dedup,
            reasoning=reasoning,
            language=language,
        )
        kubernetes.use_secret_as_env(
            task, secret_name=secret, secret_key_to_env={"api_key": "TEACHER_MODEL_API_KEY"}
        )
        return Outputs(*(task.outputs[name] for name in (*DATASETS, "report")))

    return knowledge_generation


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ktpipe.pipeline", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    build = commands.add_parser("compile", help="write the pipeline as KFP YAML")
    build.add_argument("file")
    build.add_argument("--package", default="ktpipe", help="what the task pip-installs ('' if the image has ktpipe)")
    build.add_argument("--base-image", default="python:3.11-slim")
    build.add_argument("--secret", default="teacher-api-key", help="the Kubernetes secret holding the key as api_key")
    local = commands.add_parser(
        "run-local",
        help="run the pipeline with KFP's local runner, here; prints the output artifacts' paths as JSON last",
    )
    local.add_argument("--seed", required=True)
    local.add_argument("--base-url", required=True)
    local.add_argument("--model", required=True)
    local.add_argument("--root", required=True, help="where KFP keeps the run's artifacts")
    local.add_argument("--n-summaries", type=int, default=50)
    args = parser.parse_args(argv)

    if args.command == "compile":
        compiler.Compiler().compile(pipeline(args.package, args.base_image, args.secret), args.file)
        return 0
    from kfp import local as kfp_local

    # This environment has ktpipe already, so the task installs nothing.
    kfp_local.init(runner=kfp_local.SubprocessRunner(use_venv=False), pipeline_root=args.root)
    run = pipeline(package="")
    task = run(
        seed_uri=args.seed,
        teacher_base_url=args.base_url,
        teacher_model=args.model,
        n_summaries=args.n_summaries,
    )
    json.dump({name: task.outputs[name].path for name in Outputs._fields}, sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
