"""Misbehaviour the stand-in systems can be told to show: 5xx, 429 with Retry-After, slow answers, outages."""

from __future__ import annotations

import asyncio
import random
import time
from collections import deque
from dataclasses import dataclass, replace

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse


@dataclass
class FaultProfile:
    server_error_rate: float = 0.0  # 503 before doing anything
    lost_response_rate: float = 0.0  # do the work, then answer 502 (the client cannot know it landed)
    rate_limit_rate: float = 0.0  # 429 with Retry-After
    retry_after_seconds: int = 1
    slow_rate: float = 0.0  # answer after slow_seconds (longer than a client's timeout = a timeout)
    slow_seconds: float = 0.0
    outage_until: float = 0.0  # epoch seconds; every request fails with 503 until then
    ack_delay_seconds: tuple[float, float] = (0.0, 0.0)  # receivers: how late acknowledgements come
    duplicate_ack_rate: float = 0.0  # receivers: an acknowledgement answered twice in one listing
    outage_after_requests: int = 0  # go down once, after this many business requests (0 = never)
    outage_seconds: float = 0.0  # ... for this long
    rate_limit_per_second: float = 0.0  # receivers: answer 429 above this many requests per second (0 = no limit)

    def with_outage(self, seconds: float) -> FaultProfile:
        return replace(self, outage_until=time.time() + seconds)


LEVELS = {
    "none": FaultProfile(),
    "mild": FaultProfile(
        server_error_rate=0.03, rate_limit_rate=0.03, lost_response_rate=0.01, ack_delay_seconds=(0.2, 1.5)
    ),
    "heavy": FaultProfile(
        server_error_rate=0.2,
        rate_limit_rate=0.05,
        lost_response_rate=0.03,
        slow_rate=0.03,
        slow_seconds=6.0,
        ack_delay_seconds=(1.0, 5.0),
        duplicate_ack_rate=0.1,
        outage_after_requests=40,
        outage_seconds=15.0,
    ),
}


def profile(level: str) -> FaultProfile:
    try:
        return replace(LEVELS[level])
    except KeyError:
        raise ValueError(f"unknown fault level {level!r}; use one of {sorted(LEVELS)}") from None


class RateGate:
    """The receiver's own rate limit: a one-second sliding window of request times."""

    def __init__(self) -> None:
        self.times: deque[float] = deque()

    def admit(self, per_second: float) -> bool:
        if per_second <= 0:
            return True
        now = time.monotonic()
        while self.times and now - self.times[0] >= 1.0:
            self.times.popleft()
        if len(self.times) >= per_second:
            return False
        self.times.append(now)
        return True


def install(app: FastAPI, faults: FaultProfile, rng: random.Random) -> None:
    """Wrap every business endpoint (not ``/_sandbox``) in the app's current fault profile."""
    gate = RateGate()
    served = dict.fromkeys(
        ("requests", "outages", "refused_while_down", "over_rate_limit", "server_errors", "too_many_requests", "slow",
         "lost_responses"),
        0,
    )  # fmt: skip

    @app.middleware("http")
    async def misbehave(request: Request, call_next):
        if request.url.path.startswith("/_sandbox"):
            return await call_next(request)
        current = app.state.faults
        served["requests"] += 1
        if current.outage_after_requests and served["requests"] == current.outage_after_requests:
            app.state.faults = current = current.with_outage(current.outage_seconds)  # down for a stretch
            served["outages"] += 1
        if time.time() < current.outage_until:
            served["refused_while_down"] += 1
            return JSONResponse({"code": "503", "msg": "系统维护中"}, status_code=503)
        if not gate.admit(current.rate_limit_per_second):
            served["over_rate_limit"] += 1
            return JSONResponse({"code": "429", "msg": "超过限流阈值"}, status_code=429, headers={"Retry-After": "1"})
        roll = rng.random()
        if roll < current.server_error_rate:
            served["server_errors"] += 1
            return JSONResponse({"code": "503", "msg": "服务暂不可用"}, status_code=503)
        roll -= current.server_error_rate
        if roll < current.rate_limit_rate:
            served["too_many_requests"] += 1
            return JSONResponse(
                {"code": "429", "msg": "请求过于频繁"},
                status_code=429,
                headers={"Retry-After": str(current.retry_after_seconds)},
            )
        roll -= current.rate_limit_rate
        if roll < current.slow_rate:
            served["slow"] += 1
            await asyncio.sleep(current.slow_seconds)
        response = await call_next(request)
        if request.method == "POST" and rng.random() < current.lost_response_rate:
            served["lost_responses"] += 1
            return JSONResponse({"code": "502", "msg": "网关错误"}, status_code=502)
        return response

    app.state.faults = faults

    @app.post("/_sandbox/faults")
    async def set_faults(settings: dict) -> dict:
        level = settings.pop("level", None)
        updated = profile(level) if level else replace(app.state.faults)
        outage = settings.pop("down_for_seconds", None)  # go down now, for this long
        for key, value in settings.items():
            setattr(updated, key, tuple(value) if key == "ack_delay_seconds" else value)
        app.state.faults = updated.with_outage(outage) if outage else updated
        return {"ok": True}

    @app.get("/_sandbox/served")
    async def served_counts() -> dict:
        return dict(served)
