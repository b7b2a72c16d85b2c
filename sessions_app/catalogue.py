"""The model catalogue: which provider/model pairs a session may select, with prices
(USD per 1K tokens), context windows and credit tiers, and the per-provider safeguards
applied to temperature and max_tokens (reference §6).

``offline`` is a real provider here: the deterministic rule-based engine that needs no
key and no network. It is the default when no server key is configured.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from decimal import Decimal

from django.conf import settings

OFFLINE_PROVIDER = "offline"
OFFLINE_MODEL = "offline-analyst"

CREDIT_TIERS: dict[int, tuple[str, int]] = {
    1: ("Basic", 1),
    2: ("Standard", 3),
    3: ("Premium", 5),
    4: ("Premium Plus", 20),
    5: ("Ultimate", 50),
}


@dataclass(frozen=True)
class CatalogueModel:
    provider: str
    model: str
    display_name: str
    context_window: int
    input_per_1k: float
    output_per_1k: float
    tier: int
    litellm_id: str

    @property
    def credits(self) -> int:
        return CREDIT_TIERS[self.tier][1]

    def as_dict(self) -> dict:
        data = asdict(self)
        data["tier_name"] = CREDIT_TIERS[self.tier][0]
        data["credits"] = self.credits
        return data


def _m(provider, model, display, window, price_in, price_out, tier, litellm_id=None) -> CatalogueModel:
    return CatalogueModel(
        provider, model, display, window, price_in, price_out, tier, litellm_id or f"{provider}/{model}"
    )


MODELS: tuple[CatalogueModel, ...] = (
    _m(OFFLINE_PROVIDER, OFFLINE_MODEL, "Offline analyst (rule-based, no key)", 1_000_000, 0.0, 0.0, 1),
    _m("openai", "gpt-5-nano", "GPT-5 Nano", 400_000, 0.00005, 0.0004, 1),
    _m("openai", "gpt-5-mini", "GPT-5 Mini", 400_000, 0.00025, 0.002, 2),
    _m("openai", "gpt-5", "GPT-5", 400_000, 0.00125, 0.01, 4),
    _m("openai", "gpt-5.2", "GPT-5.2", 400_000, 0.00125, 0.01, 3),
    _m("openai", "gpt-5.2-pro", "GPT-5.2 Pro", 400_000, 0.002, 0.015, 5),
    _m("openai", "gpt-5.2-chat-latest", "GPT-5.2 Chat", 128_000, 0.0005, 0.002, 2),
    _m("openai", "gpt-5.4", "GPT-5.4", 400_000, 0.0025, 0.015, 4),
    _m("openai", "gpt-5.4-pro", "GPT-5.4 Pro", 400_000, 0.03, 0.18, 5),
    _m("openai", "o3", "o3", 200_000, 0.002, 0.008, 3, "openai/o3-2025-04-16"),
    _m(
        "anthropic",
        "claude-haiku-4-5",
        "Claude Haiku 4.5",
        200_000,
        0.001,
        0.005,
        2,
        "anthropic/claude-haiku-4-5-20251001",
    ),
    _m("anthropic", "claude-sonnet-4-5-20250929", "Claude Sonnet 4.5", 200_000, 0.003, 0.015, 3),
    _m("anthropic", "claude-sonnet-4-6", "Claude Sonnet 4.6", 200_000, 0.003, 0.015, 3),
    _m("anthropic", "claude-opus-4-5-20251101", "Claude Opus 4.5", 200_000, 0.015, 0.075, 4),
    _m("anthropic", "claude-opus-4-6", "Claude Opus 4.6", 200_000, 0.005, 0.025, 4),
    _m("groq", "deepseek-r1-distill-llama-70b", "DeepSeek R1 Distill 70B", 128_000, 0.00075, 0.00099, 3),
    _m("groq", "gpt-oss-120B", "GPT-OSS 120B", 128_000, 0.00075, 0.00099, 3, "groq/openai/gpt-oss-120b"),
    _m("groq", "gpt-oss-20B", "GPT-OSS 20B", 128_000, 0.00075, 0.00099, 1, "groq/openai/gpt-oss-20b"),
    _m("gemini", "gemini-2.5-pro-preview-03-25", "Gemini 2.5 Pro", 1_000_000, 0.00015, 0.001, 3),
    _m("gemini", "gemini-3-pro", "Gemini 3 Pro", 1_000_000, 0.0002, 0.001, 4),
    _m("gemini", "gemini-3-flash", "Gemini 3 Flash", 1_000_000, 0.0001, 0.0005, 3),
)

# Self-hosted providers take any model name their server knows, at no per-token price.
# Their base URL is server configuration only: a user-supplied URL would let anyone make
# the server send requests (and keys) wherever they like.
SELF_HOSTED: dict[str, tuple[str, str]] = {
    # provider: (setting holding the base URL, LiteLLM route prefix)
    "ollama": ("OLLAMA_BASE_URL", "ollama_chat"),
    "openai_compatible": ("OPENAI_COMPATIBLE_BASE_URL", "openai"),
}
SELF_HOSTED_MODEL = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/@-]{0,99}")

_BY_KEY = {(entry.provider, entry.model): entry for entry in MODELS}
PROVIDERS = (*dict.fromkeys(entry.provider for entry in MODELS), *SELF_HOSTED)


def model_lookup(*, provider: str, model: str) -> CatalogueModel | None:
    if provider in SELF_HOSTED:
        if not SELF_HOSTED_MODEL.fullmatch(model):
            return None
        return _m(provider, model, model, 128_000, 0.0, 0.0, 1, f"{SELF_HOSTED[provider][1]}/{model}")
    return _BY_KEY.get((provider, model))


def server_api_key(provider: str) -> str:
    return settings.PROVIDER_API_KEYS.get(provider, "")


def provider_base_url(provider: str) -> str:
    """The configured server of a self-hosted provider ("" when unset or not self-hosted)."""
    setting = SELF_HOSTED.get(provider, ("", ""))[0]
    return getattr(settings, setting, "") if setting else ""


def provider_ready(provider: str) -> bool:
    """Whether the server can call ``provider`` without a key from the user."""
    if provider == OFFLINE_PROVIDER:
        return True
    if provider in SELF_HOSTED:
        return bool(provider_base_url(provider))
    return bool(server_api_key(provider))


def default_model() -> CatalogueModel:
    """MODEL_PROVIDER/MODEL_NAME when valid and usable; else the offline engine.

    An invalid configured model does not crash start-up (the reference's does); the
    ``sessions_app`` system check reports it instead.
    """
    entry = model_lookup(provider=settings.MODEL_PROVIDER, model=settings.MODEL_NAME)
    if entry and provider_ready(entry.provider):
        return entry
    return _BY_KEY[(OFFLINE_PROVIDER, OFFLINE_MODEL)]


def usage_cost(*, entry: CatalogueModel | None, prompt_tokens: int, completion_tokens: int) -> Decimal:
    """USD for one call at the catalogue's per-1K prices, rounded to 7 places as stored."""
    if entry is None:
        return Decimal(0)
    cost = Decimal(str(entry.input_per_1k)) * prompt_tokens / 1000 + Decimal(str(entry.output_per_1k)) * (
        Decimal(completion_tokens) / 1000
    )
    return cost.quantize(Decimal("0.0000001"))


def apply_safeguards(*, provider: str, model: str, temperature: float, max_tokens: int) -> tuple[float, int]:
    """Clamp temperature to [0, 1] and max_tokens to what the provider/model accepts."""
    temperature = min(max(float(temperature), 0.0), 1.0)
    name = model.lower()
    if provider == "openai" and ("o1" in name or "o3" in name):
        return 1.0, min(max_tokens, 100_000)
    if provider == "openai" and name.startswith("gpt-5"):
        return 1.0, min(max_tokens, 16_000)
    if provider == "openai" and name.startswith("gpt-4"):
        return temperature, min(max_tokens, 4_096)
    if provider == "anthropic":
        big = any(marker in name for marker in ("sonnet-4", "sonnet-3-7", "opus-4"))
        return temperature, min(max_tokens, 64_000 if big else 8_192)
    if provider == "groq":
        return temperature, min(max_tokens, 32_768)
    if provider == "gemini":
        return temperature, min(max_tokens, 65_535 if ("2.5" in name or "2-5" in name) else 8_192)
    if provider == OFFLINE_PROVIDER:
        return temperature, max_tokens
    return temperature, min(max_tokens, 4_096)
