"""The ids the Bridge generates: each in its own format, unique, time-ordered where it should be."""

from __future__ import annotations

import re
import time
import uuid

import pytest

from santokit.core.ids import BRIDGE_GENERATED, generated
from santokit.core.ir import STRING_ID_GENERATORS

FORMATS = {
    "ulid": r"[0-9A-HJKMNP-TV-Z]{26}",
    "nanoid": r"[A-Za-z0-9_-]{21}",
    "uuid_v4": r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}",
    "uuid_v7": r"[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}",
}


def test_the_spec_generators_are_all_here() -> None:
    assert set(BRIDGE_GENERATED) == set(FORMATS) == set(STRING_ID_GENERATORS)


@pytest.mark.parametrize("generate", sorted(FORMATS))
def test_format_and_uniqueness(generate: str) -> None:
    ids = [generated(generate) for _ in range(2000)]
    assert all(i is not None and re.fullmatch(FORMATS[generate], i) for i in ids), ids[:3]
    assert len(set(ids)) == len(ids)


@pytest.mark.parametrize("generate", ["ulid", "uuid_v7"])
def test_time_ordered_ids_sort_by_creation(generate: str) -> None:
    first = generated(generate)
    time.sleep(0.002)
    second = generated(generate)
    assert first is not None
    assert second is not None
    assert first < second
    if generate == "uuid_v7":
        assert uuid.UUID(second).version == 7


@pytest.mark.parametrize("generate", ["auto_increment", "client"])
def test_database_and_caller_ids_are_not_generated(generate: str) -> None:
    assert generated(generate) is None
