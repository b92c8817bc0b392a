"""``edgeopt --help`` and each command's ``--help`` answer without importing torch (it takes seconds)."""

import subprocess
import sys

import pytest

COMMANDS = ["", "train", "prune", "fuse", "distill", "quantize", "export", "bench", "profile", "run", "fit"]


@pytest.mark.parametrize("command", COMMANDS)
def test_help_does_not_import_torch(command):
    code = ("import sys; from edgeopt.cli import app; sys.argv = ['edgeopt', *sys.argv[1:], '--help']\n"
            "try:\n    app()\nexcept SystemExit:\n    pass\n"
            "assert 'torch' not in sys.modules, 'torch was imported'")
    args = [sys.executable, "-c", code, *([command] if command else [])]
    done = subprocess.run(args, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr[-500:]
    assert "Usage" in done.stdout
