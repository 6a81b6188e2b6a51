"""The ``qunlearn`` entry point: instant help, one error handler, progress bars only on a
terminal, and the method listing without torch."""

from __future__ import annotations

import argparse
import ast
import json
import subprocess
import sys
import textwrap

import pytest

from qiskit_unlearn.cli import main as cli
from qiskit_unlearn.cli.options import show_progress


def _imports_after(code: str, env: dict[str, str] | None = None) -> list[str]:
    """Heavy modules loaded by a fresh interpreter that runs ``code``."""
    probe = textwrap.dedent(code) + textwrap.dedent("""
        import sys
        print("LOADED", [m for m in ("torch", "qiskit", "numba") if m in sys.modules])
        """)
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         env=env, timeout=300, check=True).stdout
    return ast.literal_eval(out.split("LOADED", 1)[1].strip())


@pytest.mark.parametrize("argv", [["--help"], ["run", "--help"], ["sweep", "--help"],
                                  ["hw", "submit", "--help"], ["report", "--help"],
                                  ["demo", "--help"], ["bench", "--help"], ["--version"]])
def test_help_loads_neither_torch_nor_qiskit(argv):
    assert _imports_after(f"""
        from qiskit_unlearn.cli.main import main
        try:
            main({argv!r})
        except SystemExit:
            pass
        """) == []


def test_methods_listing_is_served_without_torch_once_cached(tmp_path):
    env = {**__import__("os").environ, "XDG_CACHE_HOME": str(tmp_path)}
    code = """
        import contextlib, io
        from qiskit_unlearn.cli.main import main
        with contextlib.redirect_stdout(io.StringIO()):
            main(["methods", "certified"])
        """
    assert "torch" in _imports_after(code, env)  # the first call reads the registry
    assert _imports_after(code, env) == []  # later calls read the listing
    listing = next((tmp_path / "qiskit-unlearn" / "cli").glob("methods-*.json"))
    listing.write_text("{broken")  # a damaged listing is rebuilt, never an error
    assert "torch" in _imports_after(code, env)
    assert json.loads(listing.read_text())


def test_methods_show_their_rules(capsys):
    assert cli.main(["methods", "certified"]) == 0
    out = capsys.readouterr().out
    assert "delta = 1e-05" in out and "(a finite number > 0.0 and < 1.0)" in out
    assert cli.main(["methods", "nope"]) == 2
    assert "unknown method 'nope'" in capsys.readouterr().err


def test_progress_bars_only_on_a_terminal(monkeypatch):
    args = argparse.Namespace(no_progress=False)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: False)
    assert not show_progress(args)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    assert show_progress(args)
    assert not show_progress(argparse.Namespace(no_progress=True))


def _failing(exc: BaseException):
    def run(_args: argparse.Namespace) -> int:
        raise exc
    return run


@pytest.mark.parametrize(("exc", "expected"), [
    (ValueError("bad value; do this instead"), "error: bad value; do this instead\n"),
    (PermissionError(13, "Permission denied", "/some/out"),
     "error: cannot access /some/out: Permission denied;"),
    (RuntimeError("boom"), "error: unexpected RuntimeError: boom. This is a bug"),
])
def test_every_error_is_one_line_with_exit_code_2(monkeypatch, capsys, exc, expected):
    import qiskit_unlearn.cli.backends as command

    monkeypatch.setattr(command, "run_from_args", _failing(exc))
    monkeypatch.delenv("QUNLEARN_DEBUG", raising=False)
    assert cli.main(["backends"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(expected) and err.count("\n") == 1 and "Traceback" not in err
    monkeypatch.setenv("QUNLEARN_DEBUG", "1")
    with pytest.raises(type(exc)):
        cli.main(["backends"])


def test_an_interrupt_says_how_to_continue(monkeypatch, capsys):
    import qiskit_unlearn.cli.backends as command

    monkeypatch.setattr(command, "run_from_args", _failing(KeyboardInterrupt()))
    assert cli.main(["backends"]) == 130
    assert "run the same command again" in capsys.readouterr().err


def test_python_dash_m_runs_the_same_command():
    """``python -m qiskit_unlearn`` is ``qunlearn`` (for interpreters without the script)."""
    import qiskit_unlearn

    ok = subprocess.run([sys.executable, "-m", "qiskit_unlearn", "--version"],
                        capture_output=True, text=True, check=False)
    assert ok.returncode == 0
    assert ok.stdout.strip() == f"qiskit-unlearn {qiskit_unlearn.__version__}"
    bad = subprocess.run([sys.executable, "-m", "qiskit_unlearn", "methods", "no-such-method"],
                         capture_output=True, text=True, check=False)
    assert bad.returncode == 2
    assert bad.stderr.startswith("error: ") and "Traceback" not in bad.stderr
