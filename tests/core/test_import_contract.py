"""The app graph runs one way (DESIGN.md, "Layout"): `lint-imports` checks the contracts
in pyproject.toml ([tool.importlinter]) over every import statement of `apps`, those
inside functions included, and fails on any import against the order."""

import subprocess
import sys
from pathlib import Path

from django.conf import settings


def test_apps_import_only_the_apps_below_them():
    # The console script installed beside this interpreter (the virtualenv's bin/).
    lint_imports = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(
        [str(lint_imports), "--no-cache", "--no-logo"],
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
