"""`Limiter`, a tier's `max_concurrency`: slots handed over in arrival order, across threads
and event loops, with nothing lost to cancelled waiters."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from tiered_agents._calls import Limiter


async def _settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_slots_go_to_waiting_tasks_in_arrival_order() -> None:
    limiter = Limiter(1)
    await limiter.aacquire()
    order: list[int] = []

    async def take(i: int) -> None:
        await limiter.aacquire()
        order.append(i)
        limiter.release()

    tasks = [asyncio.create_task(take(i)) for i in range(20)]
    await _settle()
    assert order == [] and len(limiter._waiters) == 20  # waiting on futures, not polling
    limiter.release()
    await asyncio.gather(*tasks)
    assert order == list(range(20))
    assert limiter._free == 1


async def test_a_task_cancelled_while_it_waits_gives_its_place_back() -> None:
    limiter = Limiter(1)
    await limiter.aacquire()
    waiting = asyncio.create_task(limiter.aacquire())
    await _settle()
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert not limiter._waiters
    limiter.release()
    assert limiter._free == 1


async def test_a_slot_handed_to_a_task_cancelled_before_it_wakes_is_passed_on() -> None:
    limiter = Limiter(1)
    await limiter.aacquire()
    first = asyncio.create_task(limiter.aacquire())
    second = asyncio.create_task(limiter.aacquire())
    await _settle()
    limiter.release()  # the slot is on its way to `first`...
    first.cancel()  # ...which is cancelled before it runs again
    with pytest.raises(asyncio.CancelledError):
        await first
    await asyncio.wait_for(second, 1)  # the slot went on to the next waiter
    limiter.release()
    assert limiter._free == 1


async def test_a_slot_granted_just_before_a_cancel_is_released() -> None:
    limiter = Limiter(1)
    await limiter.aacquire()
    waiting = asyncio.create_task(limiter.aacquire())
    await _settle()
    limiter.release()
    await asyncio.sleep(0)  # the hand-over has run; the task has not woken yet
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert limiter._free == 1


def test_threads_and_event_loops_share_one_limit() -> None:
    limiter = Limiter(2)
    lock = threading.Lock()
    in_flight, most, done = 0, 0, 0

    def enter() -> None:
        nonlocal in_flight, most
        with lock:
            in_flight += 1
            most = max(most, in_flight)

    def leave() -> None:
        nonlocal in_flight, done
        with lock:
            in_flight -= 1
            done += 1

    def thread_worker() -> None:
        for _ in range(5):
            limiter.acquire()
            enter()
            time.sleep(0.002)
            leave()
            limiter.release()

    async def task_worker() -> None:
        await limiter.aacquire()
        enter()
        await asyncio.sleep(0.002)
        leave()
        limiter.release()

    def loop_worker() -> None:
        async def many() -> None:
            await asyncio.gather(*(task_worker() for _ in range(10)))
        asyncio.run(many())

    threads = [threading.Thread(target=thread_worker) for _ in range(4)] + \
        [threading.Thread(target=loop_worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert done == 4 * 5 + 2 * 10
    assert most == 2
    assert limiter._free == 2 and not limiter._waiters


def test_releasing_more_than_acquired_is_an_error() -> None:
    limiter = Limiter(1)
    limiter.acquire()
    limiter.release()
    with pytest.raises(ValueError, match="released more times"):
        limiter.release()
