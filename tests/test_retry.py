import pytest

from apptuit_like._retry import RetryPolicy, parse_retry_after


def test_backoff_limits_double_and_cap():
    policy = RetryPolicy(total=5, backoff_factor=0.25, backoff_max=3.0)
    assert [policy.backoff_limit(n) for n in range(6)] == [0.25, 0.5, 1.0, 2.0, 3.0, 3.0]


def test_full_jitter_spans_zero_to_the_limit():
    policy = RetryPolicy(backoff_factor=1.0, backoff_max=10.0)
    assert policy.delay(2, None, rand=lambda: 0.0) == 0.0
    assert policy.delay(2, None, rand=lambda: 0.5) == 2.0
    assert policy.delay(2, None, rand=lambda: 0.999) == pytest.approx(3.996)
    assert policy.delay(9, None, rand=lambda: 0.5) == 5.0


def test_retry_after_wins_and_is_capped():
    policy = RetryPolicy(retry_after_max=60.0)
    assert policy.delay(0, 12.0, rand=lambda: 0.0) == 12.0
    assert policy.delay(0, 600.0) == 60.0
    assert policy.delay(0, -3.0) == 0.0


def test_retryable_statuses():
    assert [c for c in (200, 400, 401, 403, 404, 413, 429, 500, 503, 599)
            if RetryPolicy.is_retryable_status(c)] == [429, 500, 503, 599]


def test_parse_retry_after_seconds_and_dates():
    assert parse_retry_after("120", now=0) == 120.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412490.0) == 0.0
    assert parse_retry_after("", now=0) is None
    assert parse_retry_after("later", now=0) is None


def test_policy_is_immutable_and_validated():
    policy = RetryPolicy()
    with pytest.raises(AttributeError):
        policy.total = 3
    assert policy.with_total(3).total == 3 and policy.total == 0
    for bad in (-1, 1.5, True):
        with pytest.raises(ValueError):
            RetryPolicy(total=bad)
