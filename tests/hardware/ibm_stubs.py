"""Stand-ins for ``QiskitRuntimeService`` (no network): jobs by id and a device by name.

``DeviceService.backend("ibm_fakeland")`` is the fake 5-qubit manila, so IBM Runtime runs
"hardware" jobs in local testing mode while qiskit-unlearn treats them as IBM jobs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

SECRET_TOKEN = "tok-DO-NOT-WRITE-7f3a9c"
SECRET_INSTANCE = "crn:v1:bluemix:public:quantum-computing:us-east:a/DO-NOT-WRITE-91b2::"


class StubJob:
    def __init__(self, status: str, result=None) -> None:
        self._status, self._result = status, result

    def status(self) -> str:
        return self._status

    def error_message(self) -> str:
        return "Error code 1517: the job exceeded its time limit"

    def result(self):
        return self._result


class StubService:
    """``QiskitRuntimeService`` without network: jobs by id, as IBM would return them."""

    jobs: ClassVar[dict[str, StubJob]] = {}
    opened: ClassVar[list[tuple]] = []

    def __init__(self, channel=None, instance=None) -> None:  # no token argument exists
        self.opened.append((channel, instance))

    def job(self, job_id: str) -> StubJob:
        return self.jobs[job_id]


class DeviceService(StubService):
    def backend(self, name: str):
        from qiskit_unlearn.backends.noise import fake_backend

        assert name == "ibm_fakeland"
        return fake_backend("manila")


def without_ibm_account(monkeypatch: Any, home: Path) -> None:
    """No saved IBM account and no IBM environment variables for the rest of the test."""
    from qiskit_ibm_runtime.accounts import management

    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setattr(management, "_DEFAULT_ACCOUNT_CONFIG_JSON_FILE",
                        str(home / ".qiskit" / "qiskit-ibm.json"))
    for var in ("QISKIT_IBM_TOKEN", "QISKIT_IBM_URL", "QISKIT_IBM_INSTANCE",
                "QISKIT_IBM_CHANNEL"):
        monkeypatch.delenv(var, raising=False)
