"""The house rules that a reviewer would otherwise check by eye: small modules, one writer per
table, the import contracts, and the generated access page."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "src" / "clinicflow"
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"
MAX_LINES = 500
# Generated or third-party files: the migrations (each one frozen once released), the message
# catalogues (one entry per translated string, written by scripts/i18n-extract) and the
# vendored libraries under static/vendor.
EXEMPT = ("migrations/", "locale/", "web/static/vendor/")


def _source_files() -> list[Path]:
    return [
        path
        for path in PACKAGE.rglob("*")
        if path.is_file()
        and "__pycache__" not in path.parts
        and not any(part in path.relative_to(PACKAGE).as_posix() for part in EXEMPT)
    ]


def test_no_file_passes_500_lines() -> None:
    too_long = {
        path.relative_to(ROOT).as_posix(): lines
        for path in _source_files()
        if path.suffix in {".py", ".js", ".html", ".css"}
        and (lines := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert too_long == {}


# The rows each domain owns, by the names its code gives them. Only the owner's modules may
# assign to their attributes; every other domain asks the owner through a verb.
OWNED_ROWS = {
    "scheduling": {"appointment", "hold", "availability", "waitlist_entry"},
    "queue": {"entry", "queue_entry", "queue"},
    "consultations": {"consultation", "message", "attachment"},
    "records": {"prescription", "note_version"},
    "notifications": {"notification", "delivery"},
    "identity": {"user", "login"},
}


def _foreign_writes(path: Path, owner: str) -> list[str]:
    foreign = {name for domain, names in OWNED_ROWS.items() if domain != owner for name in names}
    tree = ast.parse(path.read_text(encoding="utf-8"))
    writes = []
    for node in ast.walk(tree):
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AugAssign | ast.AnnAssign):
            targets = [node.target]
        for target in targets:
            if (
                isinstance(target, ast.Attribute)
                and isinstance(target.value, ast.Name)
                and target.value.id in foreign
            ):
                writes.append(
                    f"{path.parent.name}/{path.name}:{node.lineno} {target.value.id}.{target.attr}"
                )
    return writes


def test_only_the_owning_domain_changes_its_rows() -> None:
    writes = [
        write
        for domain in OWNED_ROWS
        for path in (PACKAGE / domain).rglob("*.py")
        for write in _foreign_writes(path, domain)
    ]
    assert writes == []


def test_the_row_check_sees_a_foreign_write(tmp_path: Path) -> None:
    """The check above would catch the queue setting an appointment's status again."""
    module = tmp_path / "controls.py"
    module.write_text("def finish(appointment):\n    appointment.status = 'completed'\n")
    assert _foreign_writes(module, "queue") == [f"{tmp_path.name}/controls.py:2 appointment.status"]


def _lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--no-logo", str(root / ".importlinter")],
        cwd=root,
        env={"PYTHONPATH": str(root / "src"), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
    )


def test_the_import_contracts_hold() -> None:
    result = _lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture
def broken_copy(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "src", tmp_path / "src", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / ".importlinter", tmp_path / ".importlinter")
    return tmp_path


def _append(path: Path, line: str) -> None:
    path.write_text(path.read_text(encoding="utf-8") + f"\n{line}\n", encoding="utf-8")


def _service_module(root: Path, domain: str) -> Path:
    package = root / "src" / "clinicflow" / domain / "service"
    return package / "__init__.py" if package.is_dir() else package.with_suffix(".py")


def test_a_service_that_imports_fastapi_breaks_the_contracts(broken_copy: Path) -> None:
    _append(_service_module(broken_copy, "scheduling"), "import fastapi  # noqa")
    result = _lint_imports(broken_copy)
    assert result.returncode != 0
    assert "clinicflow.scheduling.service" in result.stdout
    assert "fastapi" in result.stdout


def test_a_domain_that_imports_another_domains_models_breaks_the_contracts(
    broken_copy: Path,
) -> None:
    _append(
        broken_copy / "src" / "clinicflow" / "records" / "access.py",
        "from clinicflow.scheduling.models import Appointment  # noqa",
    )
    result = _lint_imports(broken_copy)
    assert result.returncode != 0
    assert "clinicflow.records is not allowed to import clinicflow.scheduling.models" in " ".join(
        result.stdout.split()
    )


def test_an_upward_import_breaks_the_contracts(broken_copy: Path) -> None:
    _append(
        _service_module(broken_copy, "identity"),
        "from clinicflow.notifications import service  # noqa",
    )
    result = _lint_imports(broken_copy)
    assert result.returncode != 0
    assert "clinicflow.identity is not allowed to import clinicflow.notifications" in " ".join(
        result.stdout.split()
    )


def test_the_access_page_is_generated_from_the_code() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "access_matrix.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
