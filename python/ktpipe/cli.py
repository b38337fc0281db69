"""The `ktpipe` command: runs the recipes this package carries with just, from any folder.

`ktpipe generate-all seed=… out=…` is `just generate-all seed=… out=…` on the bundled
Justfile. Relative paths are the caller's (the Justfile reads KTPIPE_CALLER_DIR), `.env` is
read from the caller's folder, and the tools are the executables installed beside this
command (KTPIPE_BIN), so nothing is built.
"""

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

RECIPES = Path(__file__).resolve().parent / "recipes"


def tool(name: str) -> Path:
    """An executable installed with this package (or, failing that, on PATH)."""
    for folder in (sysconfig.get_path("scripts"), str(Path(sys.executable).parent)):
        path = Path(folder) / name
        if path.is_file() and os.access(path, os.X_OK):
            return path
    found = shutil.which(name)
    if found:
        return Path(found)
    sys.exit(f"ktpipe: '{name}' is not installed beside ktpipe: reinstall the ktpipe package")


def version() -> str:
    """`ktpipe <version> (<commit>)`, as the tools were built."""
    out = subprocess.run(
        [str(tool("run-report")), "--version"], capture_output=True, text=True, check=True
    ).stdout
    return "ktpipe " + out.strip().split(" ", 1)[1]


def settings_first(args: list, names: set) -> list:
    """`generate-all seed=a.jsonl` as `seed=a.jsonl generate-all`: just reads settings
    before the recipe, and takes what follows a recipe as that recipe's arguments."""
    settings = [a for a in args if a.split("=", 1)[0] in names and "=" in a]
    return settings + [a for a in args if a not in settings]


def main() -> None:
    args = sys.argv[1:]
    if args in (["--version"], ["-V"]):
        print(version())
        return
    caller = Path.cwd()
    env = dict(os.environ)
    env["KTPIPE_BIN"] = str(tool("run-report").parent)
    env["KTPIPE_CALLER_DIR"] = str(caller)
    command = [str(tool("just")), "--justfile", str(RECIPES / "Justfile")]
    command += ["--working-directory", str(RECIPES)]
    dotenv = caller / ".env"
    if dotenv.is_file():
        command += ["--dotenv-path", str(dotenv)]
    names = subprocess.run(
        command + ["--variables"], capture_output=True, text=True, env=env
    ).stdout.split()
    args = settings_first(args, set(names))
    # just takes over this process: its exit status and Ctrl-C are the user's.
    os.execve(command[0], command + args, env)
