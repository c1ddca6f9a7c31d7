"""A small OpenAI-compatible image-edit server for the API editor's tests: ``python tests/fake_image_api.py``.

It speaks ``POST /v1/images/edits`` (multipart: ``image``, ``prompt``, ``model``, ...) and answers with the image
mirrored left to right, as ``b64_json`` or, with ``response_format=url``, as a URL under ``/files/``. Failures are
injected from a plan that every request takes the next step of (``--plan 429,ok,500,timeout,malformed``):

- ``ok``: the edit; ``429``: rate limited, with ``Retry-After: 0``; ``500`` / ``503``: a server error;
- ``timeout``: the answer comes after ``--slow`` seconds (longer than the client waits);
- ``malformed``: a 200 whose body is not JSON; ``no_data``: JSON without ``data``; ``bad_image``: ``b64_json`` that
  is not an image.

A prompt containing ``REFUSE`` is refused with 400 and an OpenAI error body, a request without the ``--key`` (when
one is set) gets 401. ``GET /stats`` counts the requests by outcome. The first line it prints is its port.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import io
import itertools
import json
import sys
from collections import Counter

from aiohttp import web
from PIL import Image, ImageOps


def make_app(plan: list[str], slow: float, key: str | None) -> web.Application:
    steps = itertools.cycle(plan)
    stats: Counter[str] = Counter()
    files: dict[str, bytes] = {}

    async def edits(request: web.Request) -> web.Response:
        form = await request.post()
        stats["requests"] += 1
        if key is not None and request.headers.get("Authorization") != f"Bearer {key}":
            stats["unauthorized"] += 1
            return web.json_response({"error": {"message": "Incorrect API key provided"}}, status=401)
        prompt = str(form.get("prompt", ""))
        if "REFUSE" in prompt:
            stats["refused"] += 1
            return web.json_response(
                {"error": {"message": "Your request was rejected by the safety system", "code": "moderation_blocked"}},
                status=400,
            )
        step = next(steps)
        stats[step] += 1
        if step in ("429", "500", "503"):
            headers = {"Retry-After": "0"} if step == "429" else {}
            return web.json_response({"error": {"message": f"injected {step}"}}, status=int(step), headers=headers)
        if step == "timeout":
            await asyncio.sleep(slow)
        if step == "malformed":
            return web.Response(text="<html>upstream proxy error</html>", status=200)
        if step == "no_data":
            return web.json_response({"created": 0})
        if step == "bad_image":
            return web.json_response({"data": [{"b64_json": base64.b64encode(b"not a png").decode()}]})
        upload = form["image"]
        image = Image.open(io.BytesIO(upload.file.read())).convert("RGB")
        buffer = io.BytesIO()
        ImageOps.mirror(image).save(buffer, format="PNG")
        if form.get("response_format") == "url":
            name = f"{len(files)}.png"
            files[name] = buffer.getvalue()
            return web.json_response({"data": [{"url": f"{request.scheme}://{request.host}/files/{name}"}]})
        return web.json_response({"created": 0, "data": [{"b64_json": base64.b64encode(buffer.getvalue()).decode()}]})

    async def file(request: web.Request) -> web.Response:
        return web.Response(body=files[request.match_info["name"]], content_type="image/png")

    async def statistics(request: web.Request) -> web.Response:
        return web.json_response(dict(stats))

    app = web.Application(client_max_size=64 * 2**20)
    app.add_routes([web.post("/v1/images/edits", edits), web.get("/files/{name}", file), web.get("/stats", statistics)])
    return app


async def serve(args: argparse.Namespace) -> None:
    runner = web.AppRunner(make_app(args.plan.split(","), args.slow, args.key))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # noqa: SLF001 (aiohttp exposes the bound port only here)
    print(json.dumps({"port": port}), flush=True)
    await asyncio.Event().wait()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plan", default="ok", help="comma-separated steps, taken in turn by the requests")
    parser.add_argument("--slow", type=float, default=5.0, help="seconds a 'timeout' step waits")
    parser.add_argument("--key", default=None, help="the API key requests must carry")
    asyncio.run(serve(parser.parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
