"""Timers and counters on coroutines: the awaited run is measured, and a
decorated coroutine function stays one (FastAPI and Starlette await it)."""
import asyncio
import inspect

import pytest
from pyformance import time_calls as pyformance_time_calls
from pyformance.registry import global_registry
from starlette._utils import is_async_callable

from apptuit_like.pyformance import (MetricsRegistry, count_calls, hist_calls, meter_calls,
                                     time_calls)

PAUSE = 0.05


@pytest.fixture(autouse=True)
def fresh_global_registry():
    global_registry().clear()
    yield
    global_registry().clear()


async def ship(order_id):
    await asyncio.sleep(PAUSE)
    return order_id


def test_pyformance_times_the_creation_of_the_coroutine_not_its_run():
    """The defect these decorators fix, shown on pyformance's own."""
    asyncio.run(pyformance_time_calls(ship)(1))
    assert global_registry().timer("ship_calls").get_max() < PAUSE / 5


def test_time_calls_measures_the_awaited_run_and_stays_a_coroutine_function():
    timed = time_calls(ship)
    assert inspect.iscoroutinefunction(timed) and is_async_callable(timed)
    assert timed.__name__ == "ship"
    assert asyncio.run(timed(7)) == 7
    timer = global_registry().timer("ship_calls")
    assert timer.get_count() == 1 and PAUSE <= timer.get_max() < 10 * PAUSE + 1


def test_a_coroutine_that_raises_is_timed_and_counted_and_the_error_passes():
    @count_calls
    @time_calls
    async def fail():
        await asyncio.sleep(PAUSE)
        raise KeyError("order")
    with pytest.raises(KeyError):
        asyncio.run(fail())
    name = fail.__qualname__ + "_calls"
    assert global_registry().timer(name).get_max() >= PAUSE
    assert global_registry().counter(name).get_count() == 1


def test_count_and_meter_count_a_coroutine_when_it_runs_not_when_it_is_made():
    counted, metered = count_calls(ship), meter_calls(ship)
    never_awaited = counted(1)
    assert global_registry().counter("ship_calls").get_count() == 0
    never_awaited.close()
    asyncio.run(counted(1))
    asyncio.run(metered(2))
    assert global_registry().counter("ship_calls").get_count() == 1
    assert global_registry().meter("ship_calls").get_count() == 1


def test_hist_calls_records_what_the_coroutine_returns():
    asyncio.run(hist_calls(ship)(42))
    assert global_registry().histogram("ship_calls").get_max() == 42


def test_sync_functions_keep_pyformances_behaviour():
    @hist_calls
    @time_calls
    def total(a, b):
        return a + b
    assert total(2, 3) == 5
    name = total.__qualname__ + "_calls"
    assert global_registry().histogram(name).get_max() == 5
    assert global_registry().timer(name).get_count() == 1


def test_an_async_generator_is_timed_over_its_iteration():
    @time_calls
    async def items():
        for i in range(3):
            await asyncio.sleep(PAUSE / 3)
            yield i

    async def drain():
        return [i async for i in items()]
    assert inspect.isasyncgenfunction(items)
    assert asyncio.run(drain()) == [0, 1, 2]
    assert global_registry().timer(items.__qualname__ + "_calls").get_max() >= PAUSE * 0.9


def test_a_timer_context_as_decorator_and_async_with():
    registry = MetricsRegistry()

    @registry.timer("ship").time()
    async def decorated():
        await asyncio.sleep(PAUSE)

    async def around():
        async with registry.timer("block").time():
            await asyncio.sleep(PAUSE)
    assert inspect.iscoroutinefunction(decorated)
    asyncio.run(decorated())
    asyncio.run(decorated())
    asyncio.run(around())
    assert registry.timer("ship").get_count() == 2
    assert registry.timer("ship").get_min() >= PAUSE
    assert registry.timer("block").get_max() >= PAUSE


def test_hist_calls_records_ints_where_pyformances_own_fails():
    import pyformance

    @pyformance.hist_calls
    def theirs():
        return 3
    with pytest.raises(AttributeError):   # pyformance 0.4 calls Histogram.update()
        theirs()

    @hist_calls
    def ours():
        return 3
    assert ours() == 3
    assert global_registry().histogram(ours.__qualname__ + "_calls").get_count() == 1
