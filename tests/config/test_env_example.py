""".env.example documents exactly the declared variables, and real .env files stay out of git."""

import re
import shutil
import subprocess

import pytest

from chatdesk.config.env import E_INVALID, E_MISSING, AppSettings, load_environment
from tests.config.helpers import PRODUCTION_DEFAULTS, REPO_ROOT

ENV_EXAMPLE = REPO_ROOT / ".env.example"
# `NAME=value` or, for entries left at their default, `# NAME=value`.
ASSIGNMENT = re.compile(r"^(?:#\s*)?([A-Z][A-Z0-9_]*)=(.*)$")


def example_entries() -> dict[str, tuple[str, list[str]]]:
    """Each variable of .env.example with its example value and the comment block above it."""
    entries: dict[str, tuple[str, list[str]]] = {}
    comments: list[str] = []
    for line in ENV_EXAMPLE.read_text().splitlines():
        match = ASSIGNMENT.match(line)
        if match:
            assert match.group(1) not in entries, f"{match.group(1)} appears twice"
            entries[match.group(1)] = (match.group(2), comments)
            comments = []
        elif line.startswith("#"):
            comments.append(line.lstrip("# "))
        else:
            comments = []
    return entries


def test_env_example_documents_every_declared_variable_and_nothing_else():
    documented = set(example_entries())
    declared = set(AppSettings.model_fields)

    assert sorted(declared - documented) == [], "declared in AppSettings, missing in .env.example"
    assert sorted(documented - declared) == [], "in .env.example, not declared in AppSettings"


def test_every_example_variable_has_a_comment_with_its_defaults_and_production_rule():
    for variable, (_value, comments) in example_entries().items():
        text = " ".join(comments)
        assert comments, f"{variable} has no comment"
        assert "default" in text.lower(), f"{variable}: development default not documented"
        assert "Production:" in text, f"{variable}: production rule not documented"


def test_variables_production_requires_are_documented_as_required():
    required = {
        p.variable for p in load_environment(PRODUCTION_DEFAULTS).problems if p.code == E_MISSING
    }
    entries = example_entries()

    for variable in required:
        assert "Production: required" in " ".join(entries[variable][1]), variable


def test_the_example_key_placeholders_copied_unchanged_are_refused_in_production():
    values = {name: value for name, (value, _comments) in example_entries().items()}
    environment = load_environment({**values, "APP_ENV": "production"})

    refused = {p.variable for p in environment.problems}
    assert {"SECRET_KEY", "ENCRYPTION_KEYS"} <= refused
    assert any(
        p.code == E_INVALID and p.variable == "ENCRYPTION_KEYS" for p in environment.problems
    )


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
@pytest.mark.parametrize(
    ("path", "ignored"),
    [(".env", True), (".env.local", True), (".env.production", True), (".env.example", False)],
)
def test_env_files_are_git_ignored_except_the_example(path, ignored):
    result = subprocess.run(
        ["git", "check-ignore", "--quiet", "--no-index", path],
        cwd=REPO_ROOT,
        capture_output=True,
        check=False,
    )

    if result.returncode == 128:
        pytest.skip("not a git checkout")
    assert result.returncode == (0 if ignored else 1)
