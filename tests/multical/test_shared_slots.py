"""The shared-cache semaphore: a limit that holds across threads (and so across processes)."""

import threading
import time

import pytest

from multical.lib.shared_slots import NoSlotFree, shared_slot


def test_never_more_holders_than_slots():
    name = f"test-{time.time_ns()}"
    holding, most = [0], [0]
    lock = threading.Lock()

    def work():
        with shared_slot(name, limit=3, hold_seconds=10):
            with lock:
                holding[0] += 1
                most[0] = max(most[0], holding[0])
            time.sleep(0.05)
            with lock:
                holding[0] -= 1

    threads = [threading.Thread(target=work) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert most[0] == 3


def test_a_full_set_of_slots_makes_a_waiter_give_up():
    name = f"test-{time.time_ns()}"
    with (
        shared_slot(name, limit=1),
        pytest.raises(NoSlotFree),
        shared_slot(name, limit=1, wait_seconds=0.1),
    ):
        pass


def test_a_released_slot_is_free_again():
    name = f"test-{time.time_ns()}"
    with shared_slot(name, limit=1):
        pass
    with shared_slot(name, limit=1, wait_seconds=0.1):
        pass
