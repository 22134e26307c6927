"""The downstream CI recipes (fixtures/downstream/ci) are real: valid for their CI
systems, and made only of commands that ci/downstream.sh runs here on every CI run."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from ruamel.yaml import YAML

ROOT = Path(__file__).resolve().parents[1]
RECIPES = ROOT / "fixtures" / "downstream" / "ci"
DOWNSTREAM = ROOT / "ci" / "downstream.sh"


def commands(text: str) -> list[str]:
    """The gpiosim and pytest commands in a shell text, without venv paths or quotes."""
    flat = re.sub(r"\\\n\s*", " ", text).replace('"', "")
    flat = flat.replace("$VENV/bin/", "").replace(".venv/bin/", "")
    found = []
    for line in flat.splitlines():
        for match in re.finditer(r"\b(gpiosim|pytest) [^)>\n]*", line):
            found.append(" ".join(match[0].replace("$@", "").split()))
    return found


def recipe_scripts() -> dict[str, list[str]]:
    yaml = YAML(typ="safe")
    github = yaml.load((RECIPES / "github-workflow.yml").read_text())
    gitlab = yaml.load((RECIPES / "gitlab-ci.yml").read_text())
    return {
        "github": [s["run"] for s in github["jobs"]["gpio"]["steps"] if "run" in s],
        "gitlab": [*gitlab["gpio"]["before_script"], *gitlab["gpio"]["script"]],
    }


@pytest.mark.parametrize("system", ["github", "gitlab"])
def test_every_recipe_command_is_one_downstream_sh_runs(system: str) -> None:
    ours = commands(DOWNSTREAM.read_text())
    theirs = [c for script in recipe_scripts()[system] for c in commands(script)]
    assert len(theirs) >= 5, theirs  # cache key, build, fake run, guest run, packages
    assert [c for c in theirs if c not in ours] == []


def test_the_commands_are_found() -> None:
    """The extractor itself: a missing command would make the test above pass vacuously."""
    assert commands('x=$("$VENV/bin/gpiosim" guest-kernel --cache-key)\n') == [
        "gpiosim guest-kernel --cache-key"
    ]
    assert commands(".venv/bin/pytest -p a \\\n  --backend=sim > log") == [
        "pytest -p a --backend=sim"
    ]


@pytest.mark.parametrize(
    ("recipe", "schema"),
    [("github-workflow.yml", "vendor.github-workflows"), ("gitlab-ci.yml", "vendor.gitlab-ci")],
)
def test_the_recipes_match_their_schemas(recipe: str, schema: str) -> None:
    tool = shutil.which("check-jsonschema") or str(ROOT / ".venv" / "bin" / "check-jsonschema")
    done = subprocess.run(
        [tool, "--builtin-schema", schema, str(RECIPES / recipe)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_actionlint_finds_nothing_in_the_workflow(tmp_path: Path) -> None:
    tool = shutil.which("actionlint") or str(ROOT / ".venv" / "bin" / "actionlint")
    done = subprocess.run(
        [tool, str(RECIPES / "github-workflow.yml")], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr
    broken = tmp_path / "broken-workflow.yml"
    # The control: actionlint does report a mistake (an output of a step that is not there).
    broken.write_text(
        "on: push\njobs:\n  x:\n    runs-on: ubuntu-24.04\n    steps:\n"
        "      - run: echo ${{ steps.nope.outputs.x }}\n"
    )
    assert subprocess.run([tool, str(broken)], capture_output=True).returncode != 0
