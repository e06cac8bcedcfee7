"""Timing helpers shared by the benchmark rows."""
import gc
import statistics
import time
from typing import Callable, Dict, List, Sequence, TypeVar

_T = TypeVar("_T")

_RECORDED: List[Dict[str, list]] = []   # every sample since the last take_recorded()


def cpu_seconds(work: Callable[[], object]) -> float:
    """Process CPU time (all threads) of one call, from a collected heap."""
    fresh()
    started = time.process_time()
    work()
    return time.process_time() - started


def fresh() -> None:
    """Collect the garbage that what ran before left, so that the next sample does
    not pay for it: rotating the order changes who goes first, not who follows whom
    (with the disk buffer's normal cycle always after the memory buffer's, whose
    garbage it collected, it came out 11-20% cheaper than the same cycle)."""
    gc.collect()


def turns(names: Sequence[_T], run: int) -> List[_T]:
    """The order ``names`` take their turns in run ``run``: each run starts one further
    on, so none always follows the same one (and pays for the garbage it left).

    >>> turns("abc", 0), turns("abc", 1), turns("abc", 4)
    (['a', 'b', 'c'], ['b', 'c', 'a'], ['b', 'c', 'a'])
    """
    start = run % len(names) if names else 0
    return list(names[start:]) + list(names[:start])


def interleaved(samplers: Dict[str, Callable[[], float]], runs: int) -> Dict[str, float]:
    """The median figure of each sampler, the samplers taking turns run by run, so a
    change in the machine's load during the measurement hits all of them alike."""
    samples: Dict[str, list] = {name: [] for name in samplers}
    for run in range(runs):
        for name in turns(list(samplers), run):
            samples[name].append(samplers[name]())
    _RECORDED.append(samples)
    return {name: statistics.median(values) for name, values in samples.items()}


def take_recorded() -> List[Dict[str, list]]:
    """The samples of every ``interleaved`` call since the last take, for a run's
    JSON; forgets them."""
    taken = list(_RECORDED)
    del _RECORDED[:]
    return taken
