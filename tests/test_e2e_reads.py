"""How often one ``stk apply`` reads each database's catalog, counted in the real Hub's log.

An apply reads each connection at most twice: its plan (drift gate, blocked changes and the
release step's check are answered from that same read, under the apply lock) and, when DDL ran,
the convergence check. A run with nothing to do, and every dry run, reads once.
"""

from __future__ import annotations

import json
from collections import Counter

import pytest

from .e2e import Sandbox
from .pg import execute
from .test_e2e_flow01 import bootstrap
from .test_e2e_flow06 import edit


class Reads:
    """The Hub's ``catalog read`` debug lines, per connection, since the last ``take``."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.log = sandbox.hub.log
        self.seen = self.log.stat().st_size

    def take(self) -> Counter[str]:
        with open(self.log, "rb") as f:
            f.seek(self.seen)
            new = f.read()
        self.seen += len(new)
        count: Counter[str] = Counter()
        for line in new.decode().splitlines():
            if line.startswith("{"):
                entry = json.loads(line)
                if entry.get("msg") == "catalog read":
                    count[entry["connection"]] += 1
        return count


@pytest.mark.parametrize("sandbox", ["sqlite"], indirect=True)
def test_an_apply_reads_each_database_at_most_twice(sandbox: Sandbox) -> None:
    sandbox.hub.stop()
    sandbox.hub.env["STK_HUB_LOG_LEVEL"] = "debug"
    sandbox.hub.start()
    urls = bootstrap(sandbox)
    reads = Reads(sandbox)
    both = {"main", "analytics"}

    sandbox.ok("apply", "--dry-run", "--ref", "v1")  # all steps, everything to create
    assert reads.take() == dict.fromkeys(both, 1)

    sandbox.ok("apply", "--ref", "v1")  # DDL on both: the plan, then the convergence check
    assert reads.take() == dict.fromkeys(both, 2)

    sandbox.ok("apply", "--ref", "v1")  # nothing to do: drift gate, plan, release, one read
    assert reads.take() == dict.fromkeys(both, 1)

    edit(sandbox, "      nickname:", "      bio: { type: string }\n      nickname:")
    dry = sandbox.ok("apply", "--only", "schema", "--dry-run", "--ref", "v2")
    assert "+ add column users.bio" in dry.out
    assert reads.take() == dict.fromkeys(both, 1)

    sandbox.ok("apply", "--ref", "v2")  # DDL on main only: analytics skips the convergence read
    assert reads.take() == {"main": 2, "analytics": 1}

    # drift: the gate, each item's repair and the plan still come from one read
    execute(urls["dev_main"], "drop index users_nickname_idx")
    drifted = sandbox.stk("apply", "--dry-run", "--ref", "v2")
    assert drifted.code == 1
    assert "DRIFT_DETECTED" in drifted.err
    assert "drift main: " in drifted.out
    assert reads.take() == dict.fromkeys(both, 1)

    refused = sandbox.stk("apply", "--ref", "v2")  # the real run refuses before any DDL
    assert refused.code == 1
    assert "DRIFT_DETECTED" in refused.err
    assert reads.take() == dict.fromkeys(both, 1)

    sandbox.ok("apply", "--only", "schema", "--ref", "v2")  # the repair: DDL on main
    assert reads.take() == {"main": 2, "analytics": 1}
    sandbox.ok("apply", "--ref", "v2")
    assert reads.take() == dict.fromkeys(both, 1)
