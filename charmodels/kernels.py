"""Fast training steps for the tanh RNN and the GRU on CPU.

torch has a fused CPU kernel for nn.LSTM only; nn.RNN and nn.GRU run each time step as
several small autograd operations, and their backward pass replays all of them. Here
each layer is one `torch.autograd.Function`:

- forward: every input projection in one matrix product before the loop (for one-hot
  input that is a row lookup), then only the recurrence, ``h @ W_hh^T`` and the gates,
  per step;
- backward: hand-written backpropagation through time. The loop carries only the
  gradient of the hidden state (one ``@ W_hh`` and a few elementwise products per
  step); the weight, bias and input gradients come after the loop as single matrix
  products over all time steps at once (``dW_hh = sum_t dpre_t^T h_{t-1}`` is one matmul).

The per-step loop runs in numpy float32: on 128-wide vectors a numpy ufunc costs about
0.3 µs a call, a torch operation about 1 µs. Measured while choosing, one anthem training
step of the GRU (439 steps, hidden 128, one thread; nn.LSTM 6.5 ms, nn.GRU 54 ms): this
numpy loop 12 ms at first, 9-10 ms with the tweaks below (positional out
buffers, one tanh per sigmoid, per-step views from zip); the same Function with its loop
in torch 29 ms; per-step torch.mm into numpy buffers 13 ms; a plain loop of torch
operations left to autograd 110 ms eager, 107 ms under TorchScript; torch.compile of the
cell step compiled for 20 s and then ran slower than eager. bench/train_step.py keeps
measuring the winner against nn.RNN, nn.GRU and nn.LSTM.

The equations are torch's (see charmodels.explain); tests/test_fastcells.py checks the
outputs, final states and every gradient against nn.RNN / nn.GRU. `CharModel.read` uses
this while training (gradients on, float32 on CPU) and nn.RNN / nn.GRU otherwise.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.autograd.function import once_differentiable

# Every numpy call in the loops writes into a buffer given as its last argument,
# np.add(a, b, out): positional `out` costs ~0.15 µs less a call than out=, and a loop
# step makes 3 (RNN) to 12 (GRU) such calls.
HALF = np.float32(0.5)  # a float32 scalar; a Python float would be converted on every call


def supports(rnn: nn.Module, vectors: torch.Tensor, h0: torch.Tensor) -> bool:
    """True when `run` can stand in for `rnn(vectors, h0)` in training: a tanh RNN or a GRU,
    batch first, unidirectional, with biases, float32 on CPU, at least one time step, and
    gradients wanted (grad mode on, some tensor requiring one). Otherwise call `rnn` itself."""
    if not torch.is_grad_enabled() or not isinstance(rnn, (nn.RNN, nn.GRU)):
        return False
    if isinstance(rnn, nn.RNN) and rnn.mode != "RNN_TANH":
        return False
    if not (rnn.batch_first and rnn.bias and not rnn.bidirectional and rnn.proj_size == 0):
        return False
    if rnn.training and rnn.dropout and rnn.num_layers > 1:
        return False
    tensors = [vectors, h0, *rnn.parameters()]
    return (
        vectors.dim() == 3
        and vectors.shape[1] > 0
        and vectors.shape[2] == rnn.input_size
        and h0.shape == (rnn.num_layers, vectors.shape[0], rnn.hidden_size)  # else rnn() says what is wrong
        and all(t.device.type == "cpu" and t.dtype == torch.float32 for t in tensors)
        and any(t.requires_grad for t in tensors)
    )


def run(rnn: nn.RNN | nn.GRU, vectors: torch.Tensor, h0: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """What `rnn(vectors, h0)` returns, with the same gradients, computed by the layers here.

    vectors (batch, time, input_size), h0 (layers, batch, hidden)
    -> outputs (batch, time, hidden) of the last layer, h_n (layers, batch, hidden).
    """
    layer = _GRULayer if isinstance(rnn, nn.GRU) else _RNNLayer
    x, finals = vectors, []
    for n in range(rnn.num_layers):
        weights = [getattr(rnn, f"{name}_l{n}") for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
        x = layer.apply(x, h0[n], *weights)  # (batch, time, hidden): the next layer's input
        finals.append(x[:, -1])  # the final state is the last output; its gradient flows back through x
    return x, torch.stack(finals)


def _time_major(x: torch.Tensor) -> torch.Tensor:
    """(batch, time, features) -> (time * batch, features), row t * batch + b."""
    batch, time, features = x.shape
    return x.detach().transpose(0, 1).reshape(time * batch, features)


def _batch_first(rows: torch.Tensor, time: int, batch: int) -> torch.Tensor:
    """(time * batch, features) or (time, batch, features) -> (batch, time, features)."""
    return rows.reshape(time, batch, -1).transpose(0, 1)


# The recurrence runs in numpy, in fp32: under autocast (bf16 training) the layers take fp32
# inputs and compute as if autocast were off; their gradients come back in the callers' dtypes.
_FP32_FORWARD = torch.amp.custom_fwd(device_type="cpu", cast_inputs=torch.float32)
_FP32_BACKWARD = torch.amp.custom_bwd(device_type="cpu")


class _RNNLayer(torch.autograd.Function):
    """One tanh RNN layer: h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)."""

    @staticmethod
    @_FP32_FORWARD
    def forward(ctx, x, h0, w_ih, w_hh, b_ih, b_hh):
        batch, time, _ = x.shape
        hidden = w_hh.shape[1]
        xs = _time_major(x)  # (time * batch, input)
        # all input projections at once: xp_t = W_ih x_t + b_ih + b_hh
        xp = torch.addmm(b_ih + b_hh, xs, w_ih.detach().T).view(time, batch, hidden).numpy()
        H = torch.empty(time + 1, batch, hidden)  # H[0] = h0, H[t + 1] = h_t
        H[0] = h0.detach()
        w_hh_t = w_hh.detach().T.contiguous().numpy()  # (hidden, hidden) = W_hh^T
        Hn = H.numpy()
        for x_t, h_prev, h in zip(xp, Hn[:-1], Hn[1:]):
            np.dot(h_prev, w_hh_t, h)  # W_hh h_{t-1}
            np.add(h, x_t, h)  # pre_t = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh
            np.tanh(h, h)  # h_t = tanh(pre_t)
        ctx.save_for_backward(x, w_ih, w_hh, H)
        return _batch_first(H[1:], time, batch)

    @staticmethod
    @_FP32_BACKWARD
    @once_differentiable
    def backward(ctx, d_out):
        x, w_ih, w_hh, H = ctx.saved_tensors
        time, batch, hidden = H.shape[0] - 1, H.shape[1], H.shape[2]
        dH = d_out.transpose(0, 1).contiguous()  # (time, batch, hidden): ∂L/∂h_t from above
        tanh_grad = 1 - H[1:] * H[1:]  # (time, batch, hidden): tanh'(pre_t) = 1 - h_t²
        d_pre = torch.empty(time, batch, hidden)  # ∂L/∂pre_t, filled from the last step back
        carry = torch.zeros(batch, hidden)  # ∂L/∂h_t through h_{t+1}
        w = w_hh.detach().contiguous().numpy()
        c = carry.numpy()
        for dh_t, g_t, d in zip(dH.numpy()[::-1], tanh_grad.numpy()[::-1], d_pre.numpy()[::-1]):
            np.add(dh_t, c, d)  # dh = ∂L/∂h_t (output) + ∂L/∂h_t (through h_{t+1})
            np.multiply(d, g_t, d)  # dpre_t = dh ⊙ (1 - h_t²)
            np.dot(d, w, c)  # ∂L/∂h_{t-1} = dpre_t W_hh
        # the weights after the loop, one matmul over all time steps each
        d_pre = d_pre.view(time * batch, hidden)
        d_w_hh = d_pre.T @ H[:-1].reshape(time * batch, hidden)  # Σ_t dpre_t^T h_{t-1}
        d_w_ih = d_pre.T @ _time_major(x) if ctx.needs_input_grad[2] else None  # Σ_t dpre_t^T x_t
        d_b = d_pre.sum(0)  # b_ih and b_hh enter pre_t the same way
        d_x = _batch_first(d_pre @ w_ih.detach(), time, batch) if ctx.needs_input_grad[0] else None
        return d_x, carry, d_w_ih, d_w_hh, d_b, d_b.clone()


class _GRULayer(torch.autograd.Function):
    """One GRU layer, torch's gate order r, z, n:

    r = σ(W_ir x + b_ir + W_hr h + b_hr)
    z = σ(W_iz x + b_iz + W_hz h + b_hz)
    n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))
    h' = (1 - z) ⊙ n + z ⊙ h = n + z ⊙ (h - n)
    """

    @staticmethod
    @_FP32_FORWARD
    def forward(ctx, x, h0, w_ih, w_hh, b_ih, b_hh):
        batch, time, _ = x.shape
        hidden = w_hh.shape[1]
        w_ih, w_hh, b_ih, b_hh = (p.detach() for p in (w_ih, w_hh, b_ih, b_hh))
        rz, n_ = slice(0, 2 * hidden), slice(2 * hidden, 3 * hidden)
        # σ(a) = (1 + tanh(a / 2)) / 2: one tanh instead of exp, add and divide. The r and z
        # pre-activations are computed halved (exact in floating point) by halving their
        # weights and biases once here.
        half = torch.ones(3 * hidden)
        half[rz] = 0.5
        bias = b_ih.clone()
        bias[rz] += b_hh[rz]  # b_hr and b_hz are only ever added: fold them into the projection
        xp = torch.addmm(bias * half, _time_major(x), (w_ih * half[:, None]).T).view(time, batch, 3 * hidden)
        x_rz = xp[..., rz].contiguous().numpy()  # (W_ir x + b_ir + b_hr) / 2, (W_iz x + b_iz + b_hz) / 2
        x_n = xp[..., n_].contiguous().numpy()  # W_in x + b_in
        w_hh_t = (w_hh * half[:, None]).T.contiguous().numpy()  # (hidden, 3 hidden): [W_hr/2, W_hz/2, W_hn]^T
        b_hn = b_hh[n_].numpy()

        H = torch.empty(time + 1, batch, hidden)  # H[0] = h0, H[t + 1] = h_t
        H[0] = h0.detach()
        RZ = torch.empty(time, batch, 2 * hidden)  # r_t and z_t side by side
        N = torch.empty(time, batch, hidden)  # n_t
        HN = torch.empty(time, batch, hidden)  # W_hn h_{t-1} + b_hn, which r_t scales
        Hn, RZn = H.numpy(), RZ.numpy()
        R, Z = RZn[..., :hidden], RZn[..., hidden:]
        hp = np.empty((batch, 3 * hidden), np.float32)
        hp_rz, hp_n = hp[:, rz], hp[:, n_]
        tmp = np.empty((batch, hidden), np.float32)
        steps = zip(x_rz, x_n, Hn[:-1], Hn[1:], RZn, R, Z, N.numpy(), HN.numpy())
        for xrz_t, xn_t, h_prev, h, rz_t, r, z, n, hn in steps:
            np.dot(h_prev, w_hh_t, hp)  # [W_hr h / 2, W_hz h / 2, W_hn h]
            np.add(xrz_t, hp_rz, rz_t)  # a / 2 for a = W_ir x + b_ir + W_hr h + b_hr (and z)
            np.tanh(rz_t, rz_t)
            np.multiply(rz_t, HALF, rz_t)
            np.add(rz_t, HALF, rz_t)  # r = σ(a_r), z = σ(a_z)
            np.add(hp_n, b_hn, hn)  # hn = W_hn h + b_hn
            np.multiply(r, hn, n)
            np.add(n, xn_t, n)
            np.tanh(n, n)  # n = tanh(W_in x + b_in + r ⊙ hn)
            np.subtract(h_prev, n, tmp)
            np.multiply(z, tmp, tmp)
            np.add(n, tmp, h)  # h' = n + z ⊙ (h - n)
        ctx.save_for_backward(x, w_ih, w_hh, H, RZ, N, HN)
        return _batch_first(H[1:], time, batch)

    @staticmethod
    @_FP32_BACKWARD
    @once_differentiable
    def backward(ctx, d_out):
        x, w_ih, w_hh, H, RZ, N, HN = ctx.saved_tensors
        time, batch, hidden = H.shape[0] - 1, H.shape[1], H.shape[2]
        r, z, H_prev = RZ[..., :hidden], RZ[..., hidden:], H[:-1]
        # What the loop needs per step, for all steps at once (dh = ∂L/∂h_t in total):
        A = ((1 - z) * (1 - N * N)).numpy()  # dpre_n = dh ⊙ (1 - z) ⊙ tanh'(pre_n)
        C = ((H_prev - N) * z * (1 - z)).numpy()  # dpre_z = dh ⊙ (h - n) ⊙ σ'(a_z)
        B = (HN * r * (1 - r)).numpy()  # dpre_r = dpre_n ⊙ hn ⊙ σ'(a_r)
        R, Z = r.contiguous().numpy(), z.contiguous().numpy()
        dH = d_out.transpose(0, 1).contiguous().numpy()  # ∂L/∂h_t from above

        G = torch.empty(time, batch, 3 * hidden)  # ∂L/∂(W_hh h + b_hh) = [dpre_r, dpre_z, dhn]
        D_n = torch.empty(time, batch, hidden)  # ∂L/∂(W_in x + b_in) = dpre_n
        carry = torch.zeros(batch, hidden)  # ∂L/∂h_t through h_{t+1}
        c = carry.numpy()
        Gn = G.numpy()
        G_r, G_z, G_n = Gn[..., :hidden], Gn[..., hidden : 2 * hidden], Gn[..., 2 * hidden :]
        w = w_hh.contiguous().numpy()
        dh = np.empty((batch, hidden), np.float32)
        tmp = np.empty((batch, hidden), np.float32)
        steps = zip(dH, A, B, C, R, Z, Gn, G_r, G_z, G_n, D_n.numpy())
        for dh_out, a, b, c_z, r_t, z_t, g, g_r, g_z, g_n, d_n in reversed(list(steps)):
            np.add(dh_out, c, dh)  # dh = ∂L/∂h_t (output) + ∂L/∂h_t (through h_{t+1})
            np.multiply(dh, a, d_n)  # dpre_n
            np.multiply(d_n, b, g_r)  # dpre_r
            np.multiply(dh, c_z, g_z)  # dpre_z
            np.multiply(d_n, r_t, g_n)  # dhn = dpre_n ⊙ r
            np.dot(g, w, c)  # ∂L/∂h_{t-1} through the gates = [dpre_r, dpre_z, dhn] W_hh
            np.multiply(dh, z_t, tmp)
            np.add(c, tmp, c)  # ... + dh ⊙ z, the path h' = ... + z ⊙ h
        # the weights after the loop, one matmul over all time steps each
        G = G.view(time * batch, 3 * hidden)
        d_w_hh = G.T @ H_prev.reshape(time * batch, hidden)  # Σ_t g_t^T h_{t-1}
        d_b_hh = G.sum(0)
        d_xp = torch.cat([G[:, : 2 * hidden], D_n.view(time * batch, hidden)], 1)  # [dpre_r, dpre_z, dpre_n]
        d_w_ih = d_xp.T @ _time_major(x) if ctx.needs_input_grad[2] else None  # Σ_t d_xp_t^T x_t
        d_b_ih = d_xp.sum(0)
        d_x = _batch_first(d_xp @ w_ih, time, batch) if ctx.needs_input_grad[0] else None
        return d_x, carry, d_w_ih, d_w_hh, d_b_ih, d_b_hh
