"""A multimodal judge of appearance consistency (AC), behind one interface: ``--judge SPEC --judge-option K=V``.

Specs (:func:`create_judge`):

- ``openai-compatible:<base url>``: a chat-completions server (vLLM, SGLang, a hosted API) serving e.g.
  ``Qwen/Qwen3-VL-235B-A22B-Instruct`` (option ``model``); retries, rate limit and cache of
  :mod:`gsi_metrics.remote`; the key from the environment variable ``api_key_env`` names (none by default).
- ``transformers:<model id or folder>``: any image-text-to-text model (``AutoModelForImageTextToText`` with its
  ``AutoProcessor``), greedy decoding, loaded once per process.

Both are asked the same question with temperature 0: a system message, then the source image, the edited image and
the reference's prompt (:data:`REFERENCE_PROMPT`, from its ``mllm_eval/prompts.py``), which asks for a 0-10
identity-preservation score between two ``||V^=^V||`` delimiters. The profiles differ as the reference's defects
require (SPEC 6.2):

- ``paper`` reproduces the reference: the prompt says an instruction is given but none is (defect 9); the answer
  is read as the reference's ``aggregate.py`` does (:func:`parse_reference`: the JSON between the first two
  delimiters, its ``score``), and an answer that cannot be read, like a failed request, is AC 0, which the
  reference's aggregation turns into 0 on every axis of a compliant sample (defect 5).
- ``gsi`` appends the instruction (:func:`judge_prompt`), reads the answer more tolerantly (:func:`parse_answer`:
  the delimited JSON, else the last JSON object with a ``score``), and keeps an unreadable answer or a failed
  request apart: the sample keeps its weight-free AC, and ``details["judge"]`` and the summary's judge counts say
  which samples, and why (never a silent 0).

Each answer is cached on disk (key: the judge, model, prompt, both images' SHA-256 and the decoding parameters), so
a re-scored run asks nothing twice.
"""

from __future__ import annotations

import base64
import difflib
import hashlib
import io
import json
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from functools import cached_property
from typing import Any

import numpy as np
from PIL import Image

from gsi_datasets.registry import options_of
from gsi_metrics.remote import AnswerCache, RateLimiter, ServiceOptions, bearer_headers, post_with_retries

__all__ = [
    "JUDGES",
    "REFERENCE_PROMPT",
    "REFERENCE_SYSTEM",
    "Judge",
    "Judgement",
    "create_judge",
    "judge_prompt",
    "parse_answer",
    "parse_reference",
]

#: The delimiter around the judge's JSON answer.
DELIMITER = "||V^=^V||"
#: The reference's system message.
REFERENCE_SYSTEM = "You are a helpful assistant."
#: The reference's judge prompt (``evaluation/mllm_eval/prompts.py`` of aim-uofa/GSI-Bench), word for word: the
#: protocol of profile ``paper`` depends on it.
REFERENCE_PROMPT = """You are a professional visual evaluator specializing in image editing consistency. You will evaluate how well the appearance and identity of the target object are preserved after editing.

Appearance/Identity Preservation Definition:
If the editing instruction does not request changes to the object's appearance, the edited object should preserve its category, texture, material, shape, and color. The edited object should still be clearly recognizable as the same object from the original image.

You will be given:
1. The original image.
2. The edited image.
3. The editing instruction.

From scale 0 to 10:
A score from 0 to 10 will be given based on the degree of appearance and identity preservation.
(0 indicates the object in the edited image does not resemble the original object at all.  
10 indicates the object in the edited image perfectly preserves the object's appearance and identity.)

Your output format (the delimiter is necessary, and your reasoning must be concise):
||V^=^V||
{
"score" : <number>,
"reasoning" : "<one short sentence explaining the key visual reasons>"
}
||V^=^V||
"""  # noqa: E501, W291 (the reference's text, trailing spaces included)
#: JPEG quality of the images sent to a chat server (the reference's: Pillow's default).
JPEG_QUALITY = 75


@dataclass(frozen=True)
class Judgement:
    """One judge answer.

    Attributes:
        status: ``ok``, ``unparsable`` (an answer without a readable 0-10 score) or ``failed`` (no answer).
        score: the 0-10 score (None unless ``ok``).
        answer: the judge's raw answer ("" when it failed).
        message: why the status is not ``ok``.
    """

    status: str
    score: float | None = None
    answer: str = ""
    message: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def judge_prompt(instruction: str, profile: str) -> str:
    """The prompt's text: the reference's, plus the instruction in profile ``gsi`` (defect 9 fixed)."""
    if profile == "paper":
        return REFERENCE_PROMPT
    return f"{REFERENCE_PROMPT}\nThe editing instruction: {instruction}\n"


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value):
        return None
    return float(value)


def parse_reference(answer: str) -> float | None:
    """The score as the reference reads it: ``json.loads(answer.split(DELIMITER)[1])["score"]``, None where that
    fails. A score that is not a number is None too (the reference would crash on it while averaging)."""
    try:
        return _number(json.loads(answer.split(DELIMITER)[1])["score"])
    except (IndexError, ValueError, KeyError, TypeError):
        return None


_OBJECT = re.compile(r"\{[^{}]*\}", re.DOTALL)


def parse_answer(answer: str) -> float | None:
    """The score of profile ``gsi``: the reference's reading, else the last ``{...}`` object with a numeric
    ``score``; a score outside 0-10 is unreadable (None)."""
    score = parse_reference(answer)
    if score is None:
        for text in reversed(_OBJECT.findall(answer)):
            try:
                score = _number(json.loads(text).get("score"))
            except (ValueError, AttributeError):
                continue
            if score is not None:
                break
    return score if score is not None and 0.0 <= score <= 10.0 else None


def _png_sha256(image: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(image).tobytes() + str(image.shape).encode()).hexdigest()


class Judge:
    """A judge: :meth:`ask` sends the images and the prompt; :meth:`rate` asks once per distinct question (cached)
    and reads the answer in a profile."""

    name = "judge"
    cache: AnswerCache = AnswerCache(None, ".json")

    def ask(self, system: str, images: list[Image.Image], text: str) -> str:
        """The judge's raw answer. Raises on failure (any exception is a ``failed`` judgement)."""
        raise NotImplementedError

    def identity(self) -> dict[str, Any]:
        """What determines the answers besides the question (model, decoding), for the cache key and manifests."""
        return {"judge": self.name}

    def describe(self) -> dict[str, Any]:
        return self.identity()

    def rate(self, source: np.ndarray, edited: np.ndarray, instruction: str, profile: str) -> Judgement:
        """The judgement of ``edited`` against ``source`` (``(H, W, 3)`` uint8) in ``profile``. Never raises."""
        text = judge_prompt(instruction, profile)
        key = AnswerCache.key(
            {**self.identity(), "system": REFERENCE_SYSTEM, "text": text,
             "images": [_png_sha256(source), _png_sha256(edited)]}
        )  # fmt: skip
        cached = self.cache.get(key)
        if cached is not None:
            answer = json.loads(cached)["answer"]
        else:
            try:
                answer = self.ask(REFERENCE_SYSTEM, [Image.fromarray(source), Image.fromarray(edited)], text)
            except Exception as error:  # noqa: BLE001 (a judge failure is recorded per sample, never fatal)
                return Judgement("failed", message=f"the judge gave no answer ({type(error).__name__}: {error})")
            self.cache.put(key, json.dumps({"answer": answer}).encode())
        score = parse_reference(answer) if profile == "paper" else parse_answer(answer)
        if score is None:
            return Judgement("unparsable", answer=answer, message="no 0-10 score could be read from the answer")
        return Judgement("ok", score, answer)


# --------------------------------------------------------------------------------------------------------
# Backends


@dataclass(frozen=True)
class ServerOptions(ServiceOptions):
    """Options of an ``openai-compatible:`` judge: those of :class:`~gsi_metrics.remote.ServiceOptions` (key
    variable, timeout, retries, rate limit, cache), and

    Attributes:
        model: the served model's name.
        max_tokens: the longest answer.
    """

    timeout: float = 360.0  # the reference's client waits this long
    model: str = "Qwen/Qwen3-VL-235B-A22B-Instruct"
    max_tokens: int = 1024


def _jpeg_data_url(image: Image.Image) -> str:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="JPEG", quality=JPEG_QUALITY)
    return f"data:image/jpeg;base64,{base64.b64encode(buffer.getvalue()).decode()}"


class ServerJudge(Judge):
    """``openai-compatible:<base url>``: ``POST <base url>/chat/completions``."""

    name = "openai-compatible"

    def __init__(self, base_url: str, options: ServerOptions) -> None:
        self.base_url, self.options = base_url.rstrip("/"), options
        self.cache = AnswerCache.from_option(options.cache_dir, "judge", ".json")
        self.limiter = RateLimiter(options.rate_limit)

    @cached_property
    def client(self) -> Any:
        import httpx

        return httpx.Client()

    def __getstate__(self) -> dict[str, Any]:  # scoring workers get the configuration, not the connection
        return {"base_url": self.base_url, "options": self.options, "cache": self.cache, "limiter": None}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state, limiter=RateLimiter(state["options"].rate_limit))

    def identity(self) -> dict[str, Any]:
        return {"judge": self.name, "url": self.base_url, "model": self.options.model, "temperature": 0,
                "max_tokens": self.options.max_tokens}  # fmt: skip

    def describe(self) -> dict[str, Any]:
        return {**self.identity(), "cache_dir": str(self.cache.folder) if self.cache.folder else None}

    def ask(self, system: str, images: list[Image.Image], text: str) -> str:
        content: list[dict[str, Any]] = [{"type": "image_url", "image_url": {"url": _jpeg_data_url(image)}}
                                         for image in images]  # fmt: skip
        content.append({"type": "text", "text": text})
        payload = {
            "model": self.options.model,
            "messages": [{"role": "system", "content": system}, {"role": "user", "content": content}],
            "temperature": 0,
            "max_tokens": self.options.max_tokens,
            "stream": False,
        }
        return post_with_retries(
            self.client, f"{self.base_url}/chat/completions", _message_content, self.options.retries, self.limiter,
            json=payload, headers=bearer_headers(self.options.api_key_env),
        )  # fmt: skip


def _message_content(response: Any) -> str:
    """``choices[0].message.content`` of a chat answer. Raises ValueError for another body."""
    try:
        content = response.json()["choices"][0]["message"]["content"]
    except (ValueError, KeyError, IndexError, TypeError) as error:
        raise ValueError(f"expected a chat completion, got {response.text[:80]!r}") from error
    if not isinstance(content, str):
        raise ValueError(f"the message content is a {type(content).__name__}, not text")
    return content


@dataclass(frozen=True)
class TransformersOptions:
    """Options of a ``transformers:`` judge.

    Attributes:
        max_new_tokens: the longest answer.
        dtype: ``auto`` (bfloat16 on a GPU, float32 on the CPU), ``float32``, ``float16`` or ``bfloat16``.
        device: where the model runs (default: ``cuda`` when available, else ``cpu``).
        revision: the Hub revision of the model.
        cache_dir: the answer cache (as :class:`ServerOptions`).
    """

    max_new_tokens: int = 256
    dtype: str = "auto"
    device: str | None = None
    revision: str | None = None
    cache_dir: str | None = None


class TransformersJudge(Judge):
    """``transformers:<model id or folder>``: an image-text-to-text model run in this process (once per process)."""

    name = "transformers"

    def __init__(self, model: str, options: TransformersOptions) -> None:
        self.model_name, self.options = model, options
        self.cache = AnswerCache.from_option(options.cache_dir, "judge", ".json")

    def __getstate__(self) -> dict[str, Any]:  # workers load their own copy
        return {"model_name": self.model_name, "options": self.options, "cache": self.cache}

    @cached_property
    def device(self) -> str:
        import torch

        return self.options.device or ("cuda" if torch.cuda.is_available() else "cpu")

    @cached_property
    def loaded(self) -> tuple[Any, Any]:
        import torch
        from transformers import AutoModelForImageTextToText, AutoProcessor

        dtype = self.options.dtype
        if dtype == "auto":
            dtype = "float32" if self.device.split(":")[0] == "cpu" else "bfloat16"
        processor = AutoProcessor.from_pretrained(self.model_name, revision=self.options.revision)
        model = AutoModelForImageTextToText.from_pretrained(
            self.model_name, revision=self.options.revision, dtype=getattr(torch, dtype)
        )
        return processor, model.to(self.device).eval()

    def identity(self) -> dict[str, Any]:
        return {"judge": self.name, "model": self.model_name, "revision": self.options.revision,
                "decoding": "greedy", "max_new_tokens": self.options.max_new_tokens}  # fmt: skip

    def describe(self) -> dict[str, Any]:
        _, model = self.loaded
        return {**self.identity(), "model_class": type(model).__name__, "device": self.device,
                "dtype": str(model.dtype).removeprefix("torch.")}  # fmt: skip

    def ask(self, system: str, images: list[Image.Image], text: str) -> str:
        import torch

        processor, model = self.loaded
        content = [{"type": "image", "image": image.convert("RGB")} for image in images] + [
            {"type": "text", "text": text}
        ]
        messages = [{"role": "system", "content": [{"type": "text", "text": system}]},
                    {"role": "user", "content": content}]  # fmt: skip
        inputs = processor.apply_chat_template(
            messages, add_generation_prompt=True, tokenize=True, return_dict=True, return_tensors="pt"
        ).to(self.device)
        with torch.inference_mode():
            output = model.generate(**inputs, do_sample=False, max_new_tokens=self.options.max_new_tokens)
        answer = output[0, inputs["input_ids"].shape[1] :]
        return processor.decode(answer, skip_special_tokens=True)


#: Judge kinds: ``kind -> (options class, judge class)``.
JUDGES: dict[str, tuple[type, type[Judge]]] = {
    "openai-compatible": (ServerOptions, ServerJudge),
    "transformers": (TransformersOptions, TransformersJudge),
}


def create_judge(spec: str, options: Mapping[str, Any] | None = None) -> Judge:
    """The judge of ``openai-compatible:<base url>`` or ``transformers:<model id or folder>``.

    Raises:
        KeyError: an unknown kind (with close matches).
        ValueError: no argument, or an unknown option.
    """
    kind, _, argument = spec.partition(":")
    if kind not in JUDGES:
        close = difflib.get_close_matches(kind, JUDGES, n=2)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise KeyError(f"unknown judge {kind!r}.{hint} Known judges: openai-compatible:URL, transformers:MODEL")
    if not argument:
        raise ValueError(
            f"judge {kind!r} needs an argument: --judge {kind}:{'URL' if kind != 'transformers' else 'MODEL'}"
        )
    options_class, judge_class = JUDGES[kind]
    return judge_class(argument, options_of(options_class, f"judge {kind!r}", options or {}))
