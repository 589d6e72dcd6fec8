#!/usr/bin/python3
"""make_golden.py - writes the golden fixture that tests/test_golden.c checks the engine against.

Regenerate (needs Debian's python3-torch; `make test` does not):

    /usr/bin/python3 tests/golden/make_golden.py tests/golden

It builds a tiny LLaMA from a fixed seed, written with the same math as Hugging Face's
LlamaForCausalLM (RMSNorm with eps, rotary embeddings in the rotate_half convention with the
fp32 inverse frequencies, causal softmax attention, SiLU-gated MLP, untied lm_head), all in float32,
and writes into the output directory:

  config.json           the Hugging Face LlamaConfig of the model
  model.safetensors     its weights under the Hugging Face tensor names (F32)
  golden.safetensors    golden.inputs, golden.targets   (B, T) token ids stored as F32 (exact),
                                                       target -1 = ignored position
                        golden.logits (B, T, V), golden.loss (1)  mean cross-entropy over valid targets
                        golden.wd (n_tensors)          weight decay per tensor, in table order
                        golden.hparams (4)             lr, beta1, beta2, eps of both optimizers
                        grad.<name>                    d loss / d weight at the initial weights
                        adam2.<name>, adamw2.<name>    weights after two optimizer updates

The targets are given already shifted (target[t] is the token after input[t]), as the engine takes
them; Hugging Face's labels= argument would shift internally. Each optimizer update recomputes the
gradient on the same batch at the current weights, then steps torch.optim.Adam (weight_decay adds
wd * w to the gradient: our `adam`) or torch.optim.AdamW (w *= 1 - lr * wd before the Adam step:
our `adamw`) with one parameter group per tensor, so each tensor has its own decay, at a fixed lr.
Adam's eps is 1e-3 rather than the usual 1e-8: with a tiny eps the update lr * m / (sqrt(v) + eps)
of a gradient near zero turns a float32 rounding difference into a sizeable fraction of lr, which
no tolerance could tell from a bug; with eps = 1e-3 the update is a smooth function of the
gradient, and where eps sits in the denominator becomes visible.
"""
import json
import math
import os
import struct
import sys

import torch
import torch.nn.functional as F

CONFIG = {
    "architectures": ["LlamaForCausalLM"],
    "model_type": "llama",
    "hidden_size": 32,
    "intermediate_size": 64,
    "num_attention_heads": 4,
    "num_key_value_heads": 4,
    "num_hidden_layers": 2,
    "vocab_size": 64,
    "max_position_embeddings": 16,
    "rms_norm_eps": 1e-6,
    "rope_theta": 10000.0,
    "initializer_range": 0.02,
    "hidden_act": "silu",
    "tie_word_embeddings": False,
    "torch_dtype": "float32",
}
B, T = 2, 12
SEED = 1234
LR, BETA1, BETA2, EPS = 1e-2, 0.9, 0.999, 1e-3


def tensor_names(cfg):
    """Hugging Face state_dict order, the engine's table order."""
    names = ["model.embed_tokens.weight"]
    for l in range(cfg["num_hidden_layers"]):
        p = "model.layers.%d." % l
        names += [p + "input_layernorm.weight"]
        names += [p + "self_attn.%s_proj.weight" % x for x in "qkvo"]
        names += [p + "post_attention_layernorm.weight"]
        names += [p + "mlp.%s_proj.weight" % x for x in ("gate", "up", "down")]
    return names + ["model.norm.weight", "lm_head.weight"]


def init_weights(cfg, gen):
    """Weights larger than the usual 0.02 so attention is far from uniform and every path of the
    backward pass carries signal; norm weights away from 1 so their gradients matter."""
    C, I, V = cfg["hidden_size"], cfg["intermediate_size"], cfg["vocab_size"]
    shapes = {"embed_tokens": (V, C), "lm_head": (V, C), "q_proj": (C, C), "k_proj": (C, C),
              "v_proj": (C, C), "o_proj": (C, C), "gate_proj": (I, C), "up_proj": (I, C),
              "down_proj": (C, I)}
    w = {}
    for name in tensor_names(cfg):
        if "norm" in name:
            w[name] = 1.0 + 0.1 * torch.randn(C, generator=gen)
        else:
            shape = next(s for k, s in shapes.items() if k in name)
            w[name] = 0.15 * torch.randn(*shape, generator=gen)
    return w


def rms_norm(x, w, eps):
    var = x.pow(2).mean(-1, keepdim=True)
    return w * (x * torch.rsqrt(var + eps))


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


def rope_tables(T_, D, theta):
    inv_freq = 1.0 / (theta ** (torch.arange(0, D, 2).float() / D))
    t = torch.arange(T_, dtype=inv_freq.dtype)
    freqs = torch.einsum("i,j->ij", t, inv_freq)
    emb = torch.cat((freqs, freqs), dim=-1)
    return emb.cos(), emb.sin()


def forward(cfg, w, inputs):
    C, H = cfg["hidden_size"], cfg["num_attention_heads"]
    D, eps = C // H, cfg["rms_norm_eps"]
    Bn, Tn = inputs.shape
    cos, sin = rope_tables(Tn, D, cfg["rope_theta"])
    mask = torch.full((Tn, Tn), torch.finfo(torch.float32).min).triu(1)
    x = F.embedding(inputs, w["model.embed_tokens.weight"])
    for l in range(cfg["num_hidden_layers"]):
        p = "model.layers.%d." % l
        h = rms_norm(x, w[p + "input_layernorm.weight"], eps)
        q, k, v = (F.linear(h, w[p + "self_attn.%s_proj.weight" % s]).view(Bn, Tn, H, D).transpose(1, 2)
                   for s in "qkv")
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        att = q @ k.transpose(2, 3) / math.sqrt(D) + mask
        att = F.softmax(att, dim=-1, dtype=torch.float32)
        y = (att @ v).transpose(1, 2).reshape(Bn, Tn, C)
        x = x + F.linear(y, w[p + "self_attn.o_proj.weight"])
        h = rms_norm(x, w[p + "post_attention_layernorm.weight"], eps)
        g = F.silu(F.linear(h, w[p + "mlp.gate_proj.weight"])) * F.linear(h, w[p + "mlp.up_proj.weight"])
        x = x + F.linear(g, w[p + "mlp.down_proj.weight"])
    x = rms_norm(x, w["model.norm.weight"], eps)
    return F.linear(x, w["lm_head.weight"])


def loss_of(cfg, w, inputs, targets):
    logits = forward(cfg, w, inputs)
    loss = F.cross_entropy(logits.reshape(-1, cfg["vocab_size"]), targets.reshape(-1), ignore_index=-1)
    return logits, loss


def two_updates(cfg, w0, wd, inputs, targets, opt_class):
    names = tensor_names(cfg)
    w = {n: w0[n].clone().requires_grad_(True) for n in names}
    groups = [{"params": [w[n]], "weight_decay": wd[i]} for i, n in enumerate(names)]
    opt = opt_class(groups, lr=LR, betas=(BETA1, BETA2), eps=EPS)
    for _ in range(2):
        opt.zero_grad()
        loss_of(cfg, w, inputs, targets)[1].backward()
        opt.step()
    return {n: w[n].detach() for n in names}


def write_safetensors(path, tensors):
    """The safetensors format: 8-byte little-endian header length, JSON header, raw F32 data."""
    header, blobs, off = {"__metadata__": {"format": "pt"}}, [], 0
    for name, t in tensors.items():
        data = t.detach().contiguous().to(torch.float32).numpy().astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [off, off + len(data)]}
        blobs.append(data)
        off += len(data)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    torch.manual_seed(SEED)
    gen = torch.Generator().manual_seed(SEED)
    cfg = CONFIG
    names = tensor_names(cfg)
    w0 = init_weights(cfg, gen)
    V = cfg["vocab_size"]
    inputs = torch.randint(0, V, (B, T), generator=gen)
    targets = torch.randint(0, V, (B, T), generator=gen)
    targets[0, 3] = -1  # ignored positions: they must contribute nothing
    targets[1, 7] = -1
    wd = [0.05 * (1 + i % 4) for i in range(len(names))]  # a different decay per tensor

    w = {n: w0[n].clone().requires_grad_(True) for n in names}
    logits, loss = loss_of(cfg, w, inputs, targets)
    loss.backward()

    gold = {"golden.inputs": inputs.float(), "golden.targets": targets.float(),
            "golden.logits": logits, "golden.loss": loss.reshape(1),
            "golden.wd": torch.tensor(wd), "golden.hparams": torch.tensor([LR, BETA1, BETA2, EPS])}
    gold.update({"grad." + n: w[n].grad for n in names})
    adam = two_updates(cfg, w0, wd, inputs, targets, torch.optim.Adam)
    adamw = two_updates(cfg, w0, wd, inputs, targets, torch.optim.AdamW)
    gold.update({"adam2." + n: adam[n] for n in names})
    gold.update({"adamw2." + n: adamw[n] for n in names})

    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
        f.write("\n")
    write_safetensors(os.path.join(out, "model.safetensors"), {n: w0[n] for n in names})
    write_safetensors(os.path.join(out, "golden.safetensors"), gold)
    print("wrote %s: loss %.6f, %d tensors" % (out, loss.item(), len(names)))


if __name__ == "__main__":
    main()
