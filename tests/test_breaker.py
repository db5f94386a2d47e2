"""The known-down guard (shop/breaker.py) on its own, with a clock the test moves: after
one failure nothing is called for the cool-down, then one probe at a time goes through,
and each app keeps breakers of its own. (Redis, the queue and the object store going down
for real: tests/test_redis_down.py and tests/media/test_media_down.py.)"""

from __future__ import annotations

import pytest
from flask import Flask

from shop.breaker import Breaker, DependencyDown, breaker, server_name


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Refused(ConnectionError):
    pass


def refuse():
    raise Refused("nothing listens there")


@pytest.fixture
def guarded():
    clock = Clock()
    return Breaker("redis 10.0.0.5:6379", cool_down=10, clock=clock), clock


def test_one_failure_stops_every_call_for_the_cool_down(guarded):
    guard, clock = guarded
    calls = []
    with pytest.raises(DependencyDown) as first:
        guard.call(refuse, (Refused,))
    assert first.value.retry_after == 10 and isinstance(first.value.__cause__, Refused)
    clock.now += 4
    with pytest.raises(DependencyDown) as later:
        guard.call(lambda: calls.append("called"), (Refused,))
    assert calls == [] and later.value.retry_after == 6


def test_after_the_cool_down_one_probe_goes_and_its_answer_closes_the_breaker(guarded):
    guard, clock = guarded
    with pytest.raises(DependencyDown):
        guard.call(refuse, (Refused,))
    clock.now += 10
    assert guard.allow() is True  # the probe
    assert guard.allow() is False  # nobody else while it is out
    guard.succeeded(clock.now)
    assert guard.call(lambda: "answered", (Refused,)) == "answered"
    assert not guard.is_open


def test_a_probe_that_fails_opens_it_for_another_cool_down(guarded):
    guard, clock = guarded
    with pytest.raises(DependencyDown):
        guard.call(refuse, (Refused,))
    clock.now += 11
    with pytest.raises(DependencyDown):
        guard.call(refuse, (Refused,))
    clock.now += 9
    assert guard.allow() is False
    clock.now += 1
    assert guard.allow() is True


def test_a_probe_that_never_reports_back_is_given_up_after_a_cool_down(guarded):
    guard, clock = guarded
    guard.failed()
    clock.now += 10
    assert guard.allow() is True  # this caller never says how it went
    clock.now += 9
    assert guard.allow() is False
    clock.now += 1
    assert guard.allow() is True


def test_an_answer_to_a_call_sent_before_the_failure_does_not_close_it(guarded):
    guard, clock = guarded
    sent = clock.now
    clock.now += 1
    guard.failed()
    guard.succeeded(sent)  # a slow call that happened to get through earlier
    assert guard.is_open and guard.allow() is False


def test_other_errors_are_answers_and_pass_through(guarded):
    guard, _clock = guarded

    def wrong_type():
        raise TypeError("the server answered; the caller erred")

    with pytest.raises(TypeError):
        guard.call(wrong_type, (Refused,))
    assert not guard.is_open


def test_each_app_keeps_its_own_breakers_named_by_server_without_secrets():
    first, second = Flask("first"), Flask("second")
    first.config["DEPENDENCY_COOL_DOWN_SECONDS"] = 3
    name = server_name("redis", "redis://:hunter2@cache.internal:6380/2", 6379)
    assert name == "redis cache.internal:6380"
    assert server_name("redis", "redis://cache.internal/1", 6379) == "redis cache.internal:6379"
    assert breaker(first, name) is breaker(first, name)
    assert breaker(first, name) is not breaker(second, name)
    assert breaker(first, name).cool_down == 3 and breaker(second, name).cool_down == 10
    breaker(first, name).failed()
    assert breaker(first, name).is_open and not breaker(second, name).is_open
