"""The compact set of seen addresses used to find duplicates in an audience file."""

from __future__ import annotations

import sys
import tracemalloc

from campaign_engine.domain.dedupe import SeenAddresses


def test_first_add_is_new_second_is_duplicate():
    seen = SeenAddresses()
    assert seen.add("a@example.com") is True
    assert seen.add("a@example.com") is False
    assert seen.add("b@example.com") is True
    assert len(seen) == 2


def test_many_inserts_through_growth_are_all_remembered():
    seen = SeenAddresses(capacity=16)
    count = 100_000
    assert all(seen.add(f"user{index}@example.com") for index in range(count))
    assert len(seen) == count
    # every address is still there after the table grew many times
    assert not any(seen.add(f"user{index}@example.com") for index in range(count))
    assert len(seen) == count
    # and addresses never added are not reported as seen
    assert all(seen.add(f"other{index}@example.com") for index in range(1_000))


def test_duplicates_interleaved_with_new_addresses():
    seen = SeenAddresses(capacity=4)
    stream = [f"u{index % 700}@example.com" for index in range(3_000)]
    results = [seen.add(address) for address in stream]
    assert sum(results) == 700
    assert results[:700] == [True] * 700
    assert not any(results[700:])


def test_case_and_whitespace_are_the_callers_job():
    seen = SeenAddresses()
    assert seen.add("a@example.com")
    assert seen.add("A@example.com")  # normalise() runs before dedupe
    assert seen.add("a@example.com ")


def test_empty_and_unicode_addresses():
    seen = SeenAddresses()
    assert seen.add("")
    assert not seen.add("")
    assert seen.add("zoë@bücher.example")
    assert not seen.add("zoë@bücher.example")


def test_capacity_rounds_up_to_a_power_of_two():
    for capacity in (1, 3, 1000, 1 << 14):
        seen = SeenAddresses(capacity=capacity)
        size = len(seen._slots)
        assert size >= capacity and size & (size - 1) == 0


def test_memory_per_entry_is_small():
    count = 50_000
    addresses = [f"user{index}@example.com" for index in range(count)]  # allocated before tracing
    tracemalloc.start()
    try:
        seen = SeenAddresses()
        for address in addresses:
            seen.add(address)
        current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # 8-byte slots at a load factor of at most one half: at most 32 bytes an entry once grown
    table_bytes = sys.getsizeof(seen._slots)
    assert table_bytes / count <= 32 + 1
    assert current / count < 40, f"{current / count:.1f} bytes an entry"
    # while growing, old and new tables exist together: still far below a set of strings (~100 B)
    assert peak / count < 60, f"peak {peak / count:.1f} bytes an entry"
    assert len(seen) == count
