"""Request bodies parsed with orjson instead of the standard library's json (FastAPI's pattern of a
custom Request and APIRoute): about twice as fast, which is most of the parse of a 1,000-record
batch (~3.5 MB). A body orjson refuses is parsed again by the standard library, so what reaches
the schemas is unchanged: NaN and Infinity literals (which orjson refuses) are still a 422 naming
the field, and a malformed body is still FastAPI's 422 `json_invalid`."""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from typing import Any

import orjson
from fastapi import Request, Response
from fastapi.routing import APIRoute


class OrjsonRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            body = await self.body()
            try:
                self._json = orjson.loads(body)
            except orjson.JSONDecodeError:
                self._json = json.loads(body)
        return self._json


class OrjsonRoute(APIRoute):
    """A route whose JSON body is read by ``OrjsonRequest``."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def orjson_handler(request: Request) -> Response:
            return await handler(OrjsonRequest(request.scope, request.receive))

        return orjson_handler
