"""Misbehaviour the stand-in systems can be told to show: 5xx, 429 with Retry-After, slow answers, outages."""

from __future__ import annotations

import asyncio
import random
import time
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
    ),
}


def profile(level: str) -> FaultProfile:
    try:
        return replace(LEVELS[level])
    except KeyError:
        raise ValueError(f"unknown fault level {level!r}; use one of {sorted(LEVELS)}") from None


def install(app: FastAPI, faults: FaultProfile, rng: random.Random) -> None:
    """Wrap every business endpoint (not ``/_sandbox``) in the app's current fault profile."""

    @app.middleware("http")
    async def misbehave(request: Request, call_next):
        if request.url.path.startswith("/_sandbox"):
            return await call_next(request)
        current = app.state.faults
        if time.time() < current.outage_until:
            return JSONResponse({"code": "503", "msg": "系统维护中"}, status_code=503)
        roll = rng.random()
        if roll < current.server_error_rate:
            return JSONResponse({"code": "503", "msg": "服务暂不可用"}, status_code=503)
        roll -= current.server_error_rate
        if roll < current.rate_limit_rate:
            return JSONResponse(
                {"code": "429", "msg": "请求过于频繁"},
                status_code=429,
                headers={"Retry-After": str(current.retry_after_seconds)},
            )
        roll -= current.rate_limit_rate
        if roll < current.slow_rate:
            await asyncio.sleep(current.slow_seconds)
        response = await call_next(request)
        if request.method == "POST" and rng.random() < current.lost_response_rate:
            return JSONResponse({"code": "502", "msg": "网关错误"}, status_code=502)
        return response

    app.state.faults = faults

    @app.post("/_sandbox/faults")
    async def set_faults(settings: dict) -> dict:
        level = settings.pop("level", None)
        updated = profile(level) if level else replace(app.state.faults)
        outage = settings.pop("outage_seconds", None)
        for key, value in settings.items():
            setattr(updated, key, tuple(value) if key == "ack_delay_seconds" else value)
        app.state.faults = updated.with_outage(outage) if outage else updated
        return {"ok": True}
