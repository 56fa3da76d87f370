"""Where a run happens: the account, partition and region the credentials belong to."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

_PLACEHOLDER = re.compile(r"\$\{(account_id|partition|region)\}")


@dataclass(frozen=True)
class RunContext:
    """Where a run happens: the account and partition the credentials belong to, and the region."""

    account_id: str
    partition: str = "aws"
    region: str = "us-east-1"

    def substitute(self, value: Any) -> Any:
        """Replace ``${account_id}``, ``${partition}``, ``${region}`` in every string of ``value``."""
        if isinstance(value, str):
            return _PLACEHOLDER.sub(lambda m: str(getattr(self, m.group(1))), value)
        if isinstance(value, list):
            return [self.substitute(v) for v in value]
        if isinstance(value, dict):
            return {self.substitute(k): self.substitute(v) for k, v in value.items()}
        return value

    def iam_arn(self, resource_type: str, name: str, path: str = "/") -> str:
        return f"arn:{self.partition}:iam::{self.account_id}:{resource_type}{path}{name}"
