"""IBM Quantum accounts and devices: the one place that opens ``QiskitRuntimeService``.

Shared by the ``ibm`` backend (jobs on a device) and ``ideal:ibm_*`` (a device's ISA target,
simulated exactly). The API key is read by the IBM client from its own config file or the
environment, never passed, printed or stored here.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

from qiskit.providers import BackendV2

from qiskit_unlearn.errors import BackendError

CHANNELS = ("ibm_quantum_platform", "ibm_cloud")

_NO_ACCOUNT = (
    "backend 'ibm' found no saved IBM Quantum account. Save one once with "
    "QiskitRuntimeService.save_account(channel='ibm_quantum_platform', token='<API key>', "
    "instance='<CRN>') or set QISKIT_IBM_TOKEN (and QISKIT_IBM_INSTANCE) in the environment; "
    "to test offline use backend='fake:<device>' (e.g. 'fake:manila')"
)


def runtime_service(channel: str | None, instance: str | None) -> Any:
    """``QiskitRuntimeService`` from the saved account or environment, never from arguments.

    Looking for an account must not leave one behind: qiskit-ibm-runtime writes an empty
    ``~/.qiskit/qiskit-ibm.json`` (and its folder) whenever it reads a missing account file, so
    whatever a failed call created is removed again.
    """
    import qiskit_ibm_runtime
    from qiskit_ibm_runtime.accounts import AccountNotFoundError, InvalidAccountError, management

    # Read at call time: the library's default, unless a caller (or test) pointed it elsewhere.
    missing = _missing_paths(Path(os.path.expanduser(management._DEFAULT_ACCOUNT_CONFIG_JSON_FILE)))
    try:
        return qiskit_ibm_runtime.QiskitRuntimeService(channel=channel, instance=instance)
    except (AccountNotFoundError, InvalidAccountError):
        _remove_created(missing)
        raise BackendError(_NO_ACCOUNT) from None
    except Exception as exc:
        _remove_created(missing)
        raise BackendError(
            f"could not open IBM Quantum with the saved account ({type(exc).__name__}); check "
            "the network, the instance CRN and that the saved API key is still valid"
        ) from exc


def _missing_paths(account_file: Path) -> list[Path]:
    """``account_file`` and its folders that do not exist yet, innermost first."""
    return [p for p in (account_file, *account_file.parents) if not p.exists()]


def _remove_created(paths: list[Path]) -> None:
    """Undo what a failed account lookup created: an empty ``{}`` file and empty folders only.

    Anything with content (e.g. an account saved concurrently) is left alone.
    """
    for path in paths:
        with contextlib.suppress(OSError):
            if path.is_file() and path.read_text(encoding="utf-8").strip() in ("", "{}"):
                path.unlink()
            elif path.is_dir():
                path.rmdir()  # fails, and is skipped, unless empty


def runtime_device(service: Any, name: str | None, num_qubits: int) -> BackendV2:
    from qiskit.providers.exceptions import QiskitBackendNotFoundError

    try:
        if name is None:
            return service.least_busy(operational=True, simulator=False, min_num_qubits=num_qubits)
        return service.backend(name)
    except QiskitBackendNotFoundError:
        if name is None:
            raise BackendError(
                f"no operational IBM Quantum device with at least {num_qubits} qubits is "
                "available to this account; name one with device='ibm_...'"
            ) from None
        try:
            known = ", ".join(sorted(b.name for b in service.backends()))
        except Exception:  # listing is only a hint; the error below is what matters
            known = "(could not list devices)"
        raise BackendError(f"unknown IBM Quantum device '{name}'; this account has: {known}") \
            from None


def ibm_device(name: str | None, num_qubits: int, channel: str | None = None,
               instance: str | None = None) -> BackendV2:
    """The IBM Quantum device ``name`` (or the least busy one with ``num_qubits``) through the
    saved account, after checking the ``channel`` option."""
    if channel is not None and channel not in CHANNELS:
        raise BackendError(f"option 'channel' must be one of {', '.join(CHANNELS)}, "
                           f"got {channel!r}")
    return runtime_device(runtime_service(channel, instance), name, num_qubits)
