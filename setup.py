"""Copies the recipes (the Justfile, the prompts, the recipe library, the sample seed) into
the package as it is built, so the wheel carries them beside the `ktpipe` command. The
repository keeps one copy of each, where the Justfile finds them by relative path."""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.bdist_wheel import bdist_wheel
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
# Paths relative to the repository root, kept the same under ktpipe/recipes/.
RECIPE_FILES = [
    "Justfile",
    "scripts/recipe-lib.sh",
    "scripts/shard-run",
    "tests/fixtures/sample_seed.jsonl",
    *(str(p.relative_to(ROOT)) for p in sorted((ROOT / "prompts").glob("*.yaml"))),
]


class BuildWithRecipes(build_py):
    def run(self):
        super().run()
        recipes = Path(self.build_lib) / "ktpipe" / "recipes"
        for name in RECIPE_FILES:
            target = recipes / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, target)


class ExecutablesWheel(bdist_wheel):
    """Tags the wheel for any Python 3 on this platform: it holds executables, no module
    built against one Python's ABI."""

    def get_tag(self):
        _, _, platform = super().get_tag()
        return "py3", "none", platform


setup(cmdclass={"build_py": BuildWithRecipes, "bdist_wheel": ExecutablesWheel})
