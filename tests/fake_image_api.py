"""A small OpenAI-compatible server for the API editor's and the judge's tests: ``python tests/fake_image_api.py``.

It speaks ``POST /v1/images/edits`` (multipart: ``image``, ``prompt``, ``model``, ...) and answers with the image
mirrored left to right, as ``b64_json`` or, with ``response_format=url``, as a URL under ``/files/``. Failures are
injected from a plan that every request takes the next step of (``--plan 429,ok,500,timeout,malformed``):

- ``ok``: the edit; ``429``: rate limited, with ``Retry-After: 0``; ``500`` / ``503``: a server error;
- ``timeout``: the answer comes after ``--slow`` seconds (longer than the client waits);
- ``malformed``: a 200 whose body is not JSON; ``no_data``: JSON without ``data``; ``bad_image``: ``b64_json`` that
  is not an image.

A prompt containing ``REFUSE`` is refused with 400 and an OpenAI error body, a request without the ``--key`` (when
one is set) gets 401. ``GET /stats`` counts the requests by outcome. The first line it prints is its port.

It also speaks ``POST /v1/chat/completions`` for the judge, answering from ``--answers`` in turn: ``score:N`` (the
reference's delimited JSON with score N), ``bare:N`` (the JSON without delimiters), ``prose`` (no score), ``500``
and ``malformed`` (a body that is not JSON), and ``gate:P:L[:drop]`` (the real-candidate gate's verdict).
``GET /last_chat`` returns the last chat request as it came.
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


def _gate_answer(step: str, text: str) -> str:
    """``gate:P:L[:drop]``: the real-candidate gate's JSON, plausible P and label L (1 / 0), the rewrite "Please ..." of
    the instruction quoted in ``text`` (its digits removed with ``drop``)."""
    _, plausible, label, *drop = step.split(":")
    instruction = text.split('instruction: "', 1)[1].split('"', 1)[0]
    rewrite = "Please " + instruction[0].lower() + instruction[1:]
    if drop:
        rewrite = "".join(c for c in rewrite if not c.isdigit())
    verdict = {"plausible": plausible == "1", "label_correct": label == "1", "rewrite": rewrite}
    return "My verdict: " + json.dumps(verdict)


def _answer(step: str) -> str:
    kind, _, number = step.partition(":")
    if kind == "score":
        return f'||V^=^V||\n{{\n"score" : {number},\n"reasoning" : "same mug"\n}}\n||V^=^V||'
    if kind == "bare":
        return f'Here it is: {{"score": {number}, "reasoning": "same mug"}}'
    return "The object looks much the same."


def make_app(plan: list[str], slow: float, key: str | None, answers: list[str]) -> web.Application:
    steps = itertools.cycle(plan)
    answer_steps = itertools.cycle(answers)
    stats: Counter[str] = Counter()
    files: dict[str, bytes] = {}
    chats: list[dict] = []

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

    async def chat(request: web.Request) -> web.Response:
        chats.append(await request.json())
        step = next(answer_steps)
        stats["chat"] += 1
        if step == "500":
            return web.json_response({"error": {"message": "injected 500"}}, status=500)
        if step == "malformed":
            return web.Response(text="<html>gateway</html>", status=200)
        text = next((p["text"] for p in chats[-1]["messages"][-1]["content"] if p["type"] == "text"), "")
        content = _gate_answer(step, text) if step.startswith("gate:") else _answer(step)
        message = {"role": "assistant", "content": content}
        return web.json_response({"choices": [{"index": 0, "message": message, "finish_reason": "stop"}]})

    async def last_chat(request: web.Request) -> web.Response:
        return web.json_response(chats[-1] if chats else {})

    app = web.Application(client_max_size=64 * 2**20)
    app.add_routes(
        [
            web.post("/v1/images/edits", edits),
            web.get("/files/{name}", file),
            web.get("/stats", statistics),
            web.post("/v1/chat/completions", chat),
            web.get("/last_chat", last_chat),
        ]
    )
    return app


async def serve(args: argparse.Namespace) -> None:
    runner = web.AppRunner(make_app(args.plan.split(","), args.slow, args.key, args.answers.split(",")))
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
    parser.add_argument("--answers", default="score:8", help="comma-separated chat answers, taken in turn")
    asyncio.run(serve(parser.parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
