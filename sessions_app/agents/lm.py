"""Language models per session, calls that record their usage, and provider failures
turned into clear HTTP errors.

Every call goes through :func:`lm_call`: it runs one DSPy module under the session's LM
(``dspy.context``, so nothing is global and concurrent requests cannot see each other's
model), reads the token counts DSPy reports, and writes one usage row per call with its
cost from the catalogue. Counts are estimated from the text only when the provider
reported none (the offline engine's are estimates too), and the row says so.
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass, field
from decimal import Decimal

import dspy
from django.conf import settings
from dspy.utils import exceptions as lm_errors

from analytics.services import model_usage_record
from config.errors import ApplicationError
from sessions_app.agents.offline.engine import AsyncOfflineEngine, OfflineEngine, OfflineEngineError
from sessions_app.catalogue import (
    OFFLINE_PROVIDER,
    SELF_HOSTED,
    CatalogueModel,
    model_lookup,
    provider_base_url,
    server_api_key,
    usage_cost,
)
from sessions_app.crypto import secret_decrypt
from sessions_app.models import AnalysisSession

OPENAI_REASONING = re.compile(r"^(o[1345]|gpt-5(?!.*-chat))")
CHARS_PER_TOKEN = 4


class ProviderError(ApplicationError):
    status_code = 502
    code = "provider_error"


@dataclass
class SessionModel:
    """The session's model as a DSPy LM, with its catalogue entry for prices."""

    lm: dspy.LM
    provider: str
    model: str
    entry: CatalogueModel | None


@dataclass
class CallTrace:
    """Who the calls are for, and what they cost so far (one answer, one stream)."""

    session_id: str
    user: object | None
    chat_id: int | None = None
    is_streaming: bool = False
    usage_ids: list[int] = field(default_factory=list)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: Decimal = Decimal(0)
    calls: int = 0

    def totals(self) -> dict:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.prompt_tokens + self.completion_tokens,
            "cost": float(self.cost),
            "lm_calls": self.calls,
        }


def offline_lm() -> dspy.LM:
    return dspy.LM(
        f"offline/{OFFLINE_PROVIDER}", engine=OfflineEngine(), async_engine=AsyncOfflineEngine(), cache=False
    )


def session_model(session: AnalysisSession) -> SessionModel:
    """The DSPy LM for the session's model settings, with the user's key when given."""
    provider, model = session.model_provider, session.model_name
    entry = model_lookup(provider=provider, model=model)
    if provider == OFFLINE_PROVIDER or entry is None:
        return SessionModel(lm=offline_lm(), provider=OFFLINE_PROVIDER, model=model, entry=entry)
    kwargs: dict = {
        "temperature": session.temperature,
        "max_tokens": session.max_tokens,
        "cache": False,
        "num_retries": 0,
        "timeout": settings.LM_TIMEOUT_SECONDS,
    }
    api_key = secret_decrypt(session.api_key_encrypted) or server_api_key(provider)
    if api_key:
        kwargs["api_key"] = api_key
    if provider in SELF_HOSTED:
        kwargs["api_base"] = provider_base_url(provider)
        if provider == "openai_compatible" and not api_key:
            kwargs["api_key"] = "not-needed"  # local servers often take any key, clients insist on one
    if provider == "openai" and OPENAI_REASONING.match(model):
        # OpenAI's reasoning models take only temperature 1 and at least 16,000 tokens.
        kwargs["temperature"] = 1.0
        kwargs["max_tokens"] = max(session.max_tokens, 16_000)
    return SessionModel(lm=dspy.LM(entry.litellm_id, **kwargs), provider=provider, model=model, entry=entry)


def provider_error(error: Exception, *, provider: str) -> ApplicationError:
    """A provider failure as a clear error naming the provider."""
    if isinstance(error, lm_errors.LMAuthError):
        return ProviderError(
            f"The {provider} API rejected the API key. Check the key in the model settings.",
            code="provider_auth_failed",
            status_code=401,
        )
    if isinstance(error, lm_errors.LMRateLimitError):
        return ProviderError(
            f"The {provider} API is rate limiting requests. Wait a moment and try again.",
            code="provider_rate_limited",
            status_code=429,
        )
    timed_out = isinstance(error, lm_errors.LMTransportError) and "timed out" in str(error).lower()
    if isinstance(error, lm_errors.LMTimeoutError) or timed_out:
        return ProviderError(
            f"The {provider} model did not answer within {settings.LM_TIMEOUT_SECONDS:g} s. Try a simpler query.",
            code="provider_timeout",
            status_code=504,
        )
    if isinstance(error, lm_errors.LMUnsupportedModelError) or (
        isinstance(error, lm_errors.LMInvalidRequestError) and "model" in str(error).lower()
    ):
        return ProviderError(
            f"The {provider} API does not know the selected model. Choose another in the model settings.",
            code="unknown_model",
            status_code=400,
        )
    if isinstance(error, lm_errors.LMBillingError):
        return ProviderError(
            f"The {provider} API refused the request for billing reasons (quota or credit).",
            code="provider_billing",
            status_code=402,
        )
    if isinstance(error, lm_errors.AdapterParseError):
        return ProviderError(
            f"The {provider} model's answer did not have the expected fields. Try again or choose another model.",
            code="provider_bad_answer",
        )
    return ProviderError(f"The {provider} API failed: {type(error).__name__}.", code="provider_error")


def _valid_text(value: object) -> object:
    return value.encode("utf-8", "replace").decode("utf-8") if isinstance(value, str) else value


def _text_size(values: dict) -> int:
    return sum(len(str(value)) for value in values.values())


def lm_call(
    *,
    model: SessionModel,
    trace: CallTrace,
    signature: type[dspy.Signature],
    purpose: str,
    agent_name: str = "",
    **inputs: object,
) -> dspy.Prediction:
    """Run ``signature`` once with the session's LM and record its usage."""
    started = time.perf_counter()
    # Program output can hold lone surrogates, which no provider request can encode.
    inputs = {key: _valid_text(value) for key, value in inputs.items()}
    try:
        with dspy.context(lm=model.lm, track_usage=True):
            prediction = dspy.Predict(signature)(**inputs)
    except (lm_errors.LMError, lm_errors.AdapterParseError) as error:
        raise provider_error(error, provider=model.provider) from error
    except OfflineEngineError as error:
        raise ProviderError(str(error), code="offline_engine_error") from error
    elapsed_ms = int((time.perf_counter() - started) * 1000)
    query_size = _text_size(inputs)
    response_size = _text_size(dict(prediction.items()))
    reported = _reported_usage(prediction)
    if reported is None or reported == (0, 0):
        prompt, completion, estimated = (
            math.ceil(query_size / CHARS_PER_TOKEN),
            math.ceil(response_size / CHARS_PER_TOKEN),
            True,
        )
    else:
        (prompt, completion), estimated = reported, model.provider == OFFLINE_PROVIDER
    cost = usage_cost(entry=model.entry, prompt_tokens=prompt, completion_tokens=completion)
    usage = model_usage_record(
        user=trace.user,
        session_id=trace.session_id,
        chat_id=trace.chat_id,
        purpose=purpose,
        agent_name=agent_name,
        provider=model.provider,
        model_name=model.model,
        prompt_tokens=prompt,
        completion_tokens=completion,
        tokens_estimated=estimated,
        cost=cost,
        request_time_ms=elapsed_ms,
        query_size=query_size,
        response_size=response_size,
        is_streaming=trace.is_streaming,
    )
    trace.usage_ids.append(usage.pk)
    trace.prompt_tokens += prompt
    trace.completion_tokens += completion
    trace.cost += cost
    trace.calls += 1
    return prediction


def _reported_usage(prediction: dspy.Prediction) -> tuple[int, int] | None:
    usage = prediction.get_lm_usage() or {}
    if not usage:
        return None
    prompt = sum(int(entry.get("prompt_tokens") or 0) for entry in usage.values())
    completion = sum(int(entry.get("completion_tokens") or 0) for entry in usage.values())
    return prompt, completion
