"""The pieces around the templates: azd's azure.yaml, the checkov gate in the Makefile, inline
checkov suppressions (each with its reason) and the deployment guide."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from tests.infra.iac import BICEP_DIR, OUTPUTS, ROOT, TERRAFORM_DIR, Terraform

SKIP = re.compile(r"checkov:skip=(?P<id>[A-Z0-9_]+)(?P<sep>:\s?)(?P<reason>.*)$")
CHECK_ID = re.compile(r"^CKV2?_AZURE_\d+$")
SECRET_CHECK_ID = re.compile(r"^CKV_SECRET_\d+$")
# The line a secrets-scan suppression stands above: a Key Vault secret's name or placeholder.
SECRET_NAME_LINE = re.compile(
    r"^\s*(var secret\w+|[A-Z_]+|secret_placeholder) = ['\"](?P<value>[\w-]+)['\"]$"
)


def test_azure_yaml_deploys_the_repo_root_as_a_python_function_app() -> None:
    spec = yaml.safe_load((ROOT / "azure.yaml").read_text())
    assert spec["infra"] == {"provider": "bicep", "path": "infra/bicep", "module": "main"}
    (name, service), *others = spec["services"].items()
    assert not others
    assert service == {"project": ".", "language": "python", "host": "function"}
    # azd finds the app by this tag.
    assert f"'azd-service-name': '{name}'" in (BICEP_DIR / "main.bicep").read_text()


def test_azd_parameters_file_names_only_template_parameters() -> None:
    params = yaml.safe_load((BICEP_DIR / "main.parameters.json").read_text())["parameters"]
    template = (BICEP_DIR / "main.bicep").read_text()
    declared = set(re.findall(r"^param (\w+) ", template, flags=re.MULTILINE))
    assert set(params) <= declared
    assert params["environmentName"]["value"] == "${AZURE_ENV_NAME}"
    assert params["operatorPrincipalId"]["value"] == "${AZURE_PRINCIPAL_ID}"


def test_make_test_runs_checkov_on_both_folders_strictly() -> None:
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^test: .*\binfra-check\b", makefile, flags=re.MULTILINE)
    assert re.search(r"^CHECKOV_VERSION := \d+\.\d+\.\d+$", makefile, flags=re.MULTILINE)
    assert "CKV_PARSE_ERROR_FAIL=true" in makefile
    assert "--skip-download" in makefile
    assert "checkov==$(CHECKOV_VERSION)" in makefile
    assert "-d infra/bicep --framework bicep" in makefile
    assert "-d infra/terraform --framework terraform" in makefile
    assert "-d infra --framework secrets" in makefile
    assert ".venv-checkov/" in (ROOT / ".gitignore").read_text().split()


def _suppressions() -> list[tuple[Path, int, str, re.Match[str]]]:
    found = []
    for path in [*BICEP_DIR.glob("*.bicep"), *TERRAFORM_DIR.glob("*.tf")]:
        lines = path.read_text().splitlines()
        for number, line in enumerate(lines):
            if "checkov:skip" in line:
                match = SKIP.search(line)
                assert match, f"{path.name}:{number + 1}: unreadable suppression {line!r}"
                found.append((path, number, line, match))
    return found


def _resource_suppressions() -> list[tuple[Path, int, str, re.Match[str]]]:
    return [s for s in _suppressions() if not SECRET_CHECK_ID.match(s[3]["id"])]


def _secret_suppressions() -> list[tuple[Path, int, str, re.Match[str]]]:
    return [s for s in _suppressions() if SECRET_CHECK_ID.match(s[3]["id"])]


def test_there_are_suppressions_to_check() -> None:
    for found in (_resource_suppressions(), _secret_suppressions()):
        assert {path.suffix for path, *_ in found} == {".bicep", ".tf"}


@pytest.mark.parametrize(
    ("path", "number", "line", "match"),
    _resource_suppressions(),
    ids=lambda v: v.name if isinstance(v, Path) else None,
)
def test_every_suppression_is_inline_and_says_why(
    path: Path, number: int, line: str, match: re.Match[str]
) -> None:
    assert CHECK_ID.match(match["id"])
    assert len(match["reason"].strip()) >= 30, f"{match['id']}: say why it is skipped"
    if path.suffix == ".bicep":
        assert line.startswith("  // checkov:skip="), "Bicep: `// checkov:skip=ID: reason`"
        assert match["sep"] == ": "
    else:
        assert line.startswith("  #checkov:skip="), "Terraform: `#checkov:skip=ID:reason`"
        assert match["sep"] == ":"
    # Inside the resource body: the lines above it, up to the resource line, are suppressions.
    lines = path.read_text().splitlines()
    above = number - 1
    while "checkov:skip" in lines[above]:
        above -= 1
    assert lines[above].startswith("resource "), f"{match['id']} is not inside a resource body"


@pytest.mark.parametrize(
    ("path", "number", "line", "match"),
    _secret_suppressions(),
    ids=lambda v: v.name if isinstance(v, Path) else None,
)
def test_secret_scan_suppressions_sit_on_secret_names_only(
    path: Path, number: int, line: str, match: re.Match[str]
) -> None:
    # checkov's secrets scan honours a skip on the line above, of or below a finding; the skip
    # goes right above the name it concerns, and only names and the placeholder may be skipped.
    assert len(match["reason"].strip()) >= 30, f"{match['id']}: say why it is skipped"
    comment = "//" if path.suffix == ".bicep" else "#"
    assert line.strip().startswith(f"{comment} checkov:skip=") and match["sep"] == ": "
    below = path.read_text().splitlines()[number + 1]
    named = SECRET_NAME_LINE.match(below)
    assert named, f"{path.name}:{number + 2}: a secrets-scan skip above {below!r}"
    tf = Terraform.load()
    allowed = {*tf.locals["secret_names"].values(), tf.locals["secret_placeholder"]}
    assert named["value"] in allowed, f"{named['value']!r} is not a Key Vault secret name"


def test_deployment_guide_covers_outputs_secrets_allow_lists_and_skips() -> None:
    guide = (ROOT / "docs" / "deploy.md").read_text()
    tf = Terraform.load()
    for secret in tf.locals["secret_names"].values():
        assert f"`{secret}`" in guide, f"docs/deploy.md does not say how to set {secret}"
    for bicep_name, tf_name in OUTPUTS.items():
        assert bicep_name in guide and tf_name in guide
    for topic in ("Sage Intacct", "Creatio", "Dataverse", "/api/status", "egress_ip", "rotate"):
        assert topic in guide
    for check_id in {m["id"] for *_, m in _suppressions()}:
        assert check_id in guide, f"docs/deploy.md does not explain why {check_id} is skipped"
