"""pyformance's call decorators, for coroutines too.

pyformance's ``time_calls`` on an ``async def`` times the creation of the
coroutine (a few microseconds), not its run, and its wrapper is a plain
function, so FastAPI and Starlette no longer see a coroutine function. These
keep pyformance's names and series (``<qualified name>_calls`` in the global
registry) and, for a coroutine function, measure the awaited run and stay a
coroutine function; an async generator function is timed from its first item
to its end, and counted when its iteration starts.

>>> import asyncio
>>> from pyformance.registry import global_registry
>>> @time_calls
... async def ship(order_id):
...     await asyncio.sleep(0.01)
...     return order_id
>>> asyncio.run(ship(7))
7
>>> global_registry().timer("ship_calls").get_max() >= 0.01
True
"""
import functools
import inspect
from typing import Any, Callable, TypeVar

from pyformance.registry import counter, get_qualname, histogram, meter, timer

__all__ = ["time_calls", "count_calls", "meter_calls", "hist_calls"]

_F = TypeVar("_F", bound=Callable[..., Any])
_Begin = Callable[[], Any]
_End = Callable[[Any, bool, Any], None]   # (what begin gave, succeeded, result)


def time_calls(fn: _F) -> _F:
    """Time each call of ``fn`` (for a coroutine function, its awaited run) in the
    timer ``<name>_calls``; a call that raises is timed too."""
    name, qualname = "%s_calls" % get_qualname(fn), get_qualname(fn)
    return _wrap(fn, lambda: timer(name).time(fn=qualname),
                lambda timing, ok, result: timing.__exit__(None, None, None))


def count_calls(fn: _F) -> _F:
    """Count each call of ``fn`` in the counter ``<name>_calls`` (a coroutine when
    it starts running, not when it is created)."""
    name = "%s_calls" % get_qualname(fn)
    return _wrap(fn, lambda: counter(name).inc(), _nothing)


def meter_calls(fn: _F) -> _F:
    """Mark each call of ``fn`` in the meter ``<name>_calls``."""
    name = "%s_calls" % get_qualname(fn)
    return _wrap(fn, lambda: meter(name).mark(), _nothing)


def hist_calls(fn: _F) -> _F:
    """Record each int or float that ``fn`` returns (a coroutine function: that its
    run returns) in the histogram ``<name>_calls``."""
    name = "%s_calls" % get_qualname(fn)

    def end(_: Any, ok: bool, result: Any) -> None:
        if ok and type(result) in (int, float):
            histogram(name).add(result)   # pyformance 0.4 calls update(), which it lacks
    return _wrap(fn, _nothing_begun, end)


def _wrap(fn: _F, begin: _Begin, end: _End) -> _F:
    """``fn`` with ``begin()`` before each run and ``end(begun, ok, result)`` after
    it, whether it returned or raised; a coroutine function stays one, and so does
    an async generator function."""
    if inspect.iscoroutinefunction(fn):
        async def run_coroutine(*args: Any, **kwargs: Any) -> Any:
            begun, ok, result = begin(), False, None
            try:
                result = await fn(*args, **kwargs)
                ok = True
                return result
            finally:
                end(begun, ok, result)
        return functools.wraps(fn)(run_coroutine)  # type: ignore[return-value]
    if inspect.isasyncgenfunction(fn):
        async def run_generator(*args: Any, **kwargs: Any) -> Any:
            begun = begin()
            try:
                async for item in fn(*args, **kwargs):
                    yield item
            finally:
                end(begun, False, None)
        return functools.wraps(fn)(run_generator)  # type: ignore[return-value]

    def run(*args: Any, **kwargs: Any) -> Any:
        begun, ok, result = begin(), False, None
        try:
            result = fn(*args, **kwargs)
            ok = True
            return result
        finally:
            end(begun, ok, result)
    return functools.wraps(fn)(run)  # type: ignore[return-value]


def _nothing(*_: Any) -> None:
    return None


def _nothing_begun() -> None:
    return None
