"""Copy a store's whole namespace into another: moving a deployment between Redis servers or clouds (Memorystore to
ElastiCache, one prefix to another), with `qcl store copy`.

Every key goes with its content and its time left to live, written into the target in one step (`Store.load`):
afterwards the target holds all of them, or, when the write fails, none. Token buckets stay behind (a bucket left
alone refills, so nothing in one is worth moving). The source is read as it is while the copy runs, not as a
snapshot: stop the services that write it first (the procedure is in docs/deploy/aws.md).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from qcl.errors import QclError
from qcl.store.base import Store


class StoreCopyError(QclError):
    """A copy that was refused or failed; nothing was written to the target."""


@dataclass(frozen=True)
class Copied:
    keys: int
    seconds: float


def copy_store(source: Store, target: Store, *, replace: bool = False) -> Copied:
    """Copy every key of `source`'s namespace into `target`'s. A target that already holds keys is refused unless
    `replace`, which deletes them in the same step as the write."""
    started = time.monotonic()
    if not replace:
        held = sum(1 for _ in target.scan())
        if held:
            raise StoreCopyError(
                f"the target already holds {held} keys; nothing was copied (--replace deletes them in the same step)"
            )
    entries = list(source.scan())
    written = target.load(entries, replace=replace)
    return Copied(keys=written, seconds=time.monotonic() - started)
