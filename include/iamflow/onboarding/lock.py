"""The per-team lock: which DAG run holds a team and environment.

``<teams>/.pending/<team>-<env>.lock`` is created with ``O_EXCL``, so two runs (onboarding or
offboarding) of the same team and environment cannot both hold it.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from iamflow.onboarding.request import OnboardingConfig, RequestError, TeamRequest

# --- the per-team lock -----------------------------------------------------------------------------


@dataclass
class LockHolder:
    """Who holds a team's lock: a DAG run."""

    dag_id: str
    run_id: str
    action: str
    since: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    def describe(self) -> str:
        return f"{self.action} run {self.run_id!r} of DAG {self.dag_id} (since {self.since})"


def lock_path(request: TeamRequest, config: OnboardingConfig) -> Path:
    return config.pending_dir / f"{request.slug}.lock"


def read_lock(path: Path) -> LockHolder | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return LockHolder(**{k: str(data[k]) for k in ("dag_id", "run_id", "action", "since")})
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError):
        return LockHolder("?", "?", "?", "unreadable lock")


def acquire_lock(path: Path, holder: LockHolder, *, is_stale: Callable[[LockHolder], bool]) -> None:
    """Take a team's lock for ``holder`` (idempotent for the same run); raise ``RequestError`` when held.

    A lock whose run has ended without releasing it (``is_stale``) is taken over.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = json.dumps(holder.__dict__, indent=1)
    for _attempt in range(3):
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            current = read_lock(path)
            if current is None:
                continue  # released in between: try again
            if current.run_id == holder.run_id and current.dag_id == holder.dag_id:
                return  # a retry of the same run
            if current.run_id != "?" and is_stale(current):
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
                continue
            raise RequestError([("team", f"{path.stem} is busy: {current.describe()} is pending for the same team "
                                         "and environment; wait for it to finish (or reject it)")]) from None
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(payload)
        return
    raise RequestError([("team", f"could not take the lock {path} (it keeps changing hands)")])


def holds_lock(path: Path, dag_id: str, run_id: str) -> bool:
    current = read_lock(path)
    return current is not None and current.dag_id == dag_id and current.run_id == run_id


def release_lock(path: Path, dag_id: str, run_id: str) -> bool:
    """Remove the lock if this run holds it; return whether it did."""
    if not holds_lock(path, dag_id, run_id):
        return False
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    return True
