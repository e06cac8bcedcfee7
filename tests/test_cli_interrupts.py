"""The command's signal handling: set, restored, layered, and never lost."""
import signal

import pytest

from apptuit_like._cli.interrupts import Interrupts


def test_inside_a_signal_interrupts_and_is_remembered_and_outside_handlers_are_back():
    before = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    with Interrupts() as interrupts:
        interrupts.wait(0)   # nothing yet
        with pytest.raises(KeyboardInterrupt):
            signal.raise_signal(signal.SIGTERM)
        with pytest.raises(KeyboardInterrupt):
            interrupts.check()   # remembered, whatever became of the first exception
        with pytest.raises(KeyboardInterrupt):
            list(interrupts.checked([1, 2]))
    assert {signum: signal.getsignal(signum) for signum in before} == before


def test_a_handler_put_over_ours_stays_and_ours_then_passes_the_signal_on():
    seen, before = [], signal.signal(signal.SIGINT, signal.default_int_handler)
    with Interrupts() as interrupts:
        ours = signal.getsignal(signal.SIGINT)
        signal.signal(signal.SIGINT, lambda signum, frame: (seen.append(signum),
                                                            ours(signum, frame)))
    try:
        with pytest.raises(KeyboardInterrupt):   # Python's own handler, called by ours
            signal.raise_signal(signal.SIGINT)
        assert seen == [signal.SIGINT] and not interrupts.event.is_set()
    finally:
        signal.signal(signal.SIGINT, before)


def test_an_ignored_signal_stays_ignored():
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with Interrupts() as interrupts:
            assert signal.getsignal(signal.SIGINT) == signal.SIG_IGN
            signal.raise_signal(signal.SIGINT)
            interrupts.check()
        assert signal.getsignal(signal.SIGINT) == signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, previous)
