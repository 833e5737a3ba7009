"""Fast training layers for the tanh RNN and the GRU on CPU, swapped in by trainers.

    with kernels.fast_training(model):  # model.rnn runs FastRNN / FastGRU in here
        ...  # training steps

torch has a fused CPU kernel for nn.LSTM only; nn.RNN and nn.GRU run each time step as
several small autograd operations, and their backward pass replays all of them. Here each
layer is one `torch.autograd.Function`:

- forward: every input projection in one matrix product before the loop (for one-hot
  input that is a row lookup), then only the recurrence, ``h @ W_hh^T`` and the gates,
  per step: the equations of charmodels.cells, rearranged for speed (tests hold the two equal);
- backward: hand-written backpropagation through time. The loop carries only the
  gradient of the hidden state (one ``@ W_hh`` and a few elementwise products per
  step); the weight, bias and input gradients come after the loop as single matrix
  products over all time steps at once (``dW_hh = sum_t dpre_t^T h_{t-1}`` is one matmul).

The per-step loops run in numpy float32, because on 128-wide vectors a numpy ufunc call
costs about a third of a torch operation's; bench/train_step.py measures the layers against
nn.RNN, nn.GRU and nn.LSTM. tests/test_kernels.py checks outputs, final states and every
gradient against nn.RNN / nn.GRU, with dropout between stacked layers too.

numpy's BLAS keeps its own thread pool, which torch.set_num_threads does not reach: inside
these layers it follows torch.get_num_threads() (threadpoolctl), so a caller that asked for
one thread gets one, and several trainings side by side do not fight over the cores.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Self

import numpy as np
import torch
from threadpoolctl import ThreadpoolController
from torch import nn
from torch.autograd.function import once_differentiable
from torch.nn import functional as F

# Every numpy call in the loops writes into a buffer given as its last argument,
# np.add(a, b, out): positional `out` costs ~0.15 µs less a call than out=, and a loop
# step makes 3 (RNN) to 12 (GRU) such calls.
HALF = np.float32(0.5)  # a float32 scalar; a Python float would be converted on every call


class BlasThreads:
    """The thread count of numpy's BLAS, read and set through threadpoolctl.

    The loaded BLAS libraries are looked up once, on first use (that scan costs about
    0.5 ms; a read or a set costs about 1 µs after it), so a layer can check the count on
    every call and set it only when it differs.
    """

    def __init__(self) -> None:
        self._libraries: list | None = None
        self._lock = threading.Lock()

    def libraries(self) -> list:
        """threadpoolctl's controller of each BLAS library loaded (usually numpy's OpenBLAS alone)."""
        if self._libraries is None:
            with self._lock:
                if self._libraries is None:
                    self._libraries = list(ThreadpoolController().select(user_api="blas").lib_controllers)
        return self._libraries

    def follow_torch(self) -> None:
        """As many BLAS threads as torch uses (torch.get_num_threads()), set only when they differ."""
        threads = torch.get_num_threads()
        for library in self.libraries():
            if library.get_num_threads() != threads:
                library.set_num_threads(threads)


BLAS = BlasThreads()


class blas_limit:
    """Within the block, numpy's BLAS runs on `threads` threads; after it, as before."""

    def __init__(self, threads: int):
        self.threads = threads
        self.changed: list[tuple] = []  # (library, its count before)

    def __enter__(self) -> Self:
        for library in BLAS.libraries():
            before = library.get_num_threads()
            if before != self.threads:
                library.set_num_threads(self.threads)
                self.changed.append((library, before))
        return self

    def __exit__(self, *exc) -> None:
        for library, before in self.changed:
            library.set_num_threads(before)
        self.changed = []


def applies(rnn: nn.RNN | nn.GRU, vectors: torch.Tensor, h0: torch.Tensor | None) -> bool:
    """True when `run` can stand in for `rnn(vectors, h0)` in training: a tanh RNN or a GRU,
    batch first, unidirectional, with biases, float32 on CPU (also under CPU autocast, which
    leaves the weights float32), at least one time step, and gradients wanted (grad mode on,
    some tensor requiring one). Otherwise the module's own forward runs."""
    if not torch.is_grad_enabled() or not isinstance(rnn, (nn.RNN, nn.GRU)):
        return False
    if isinstance(rnn, nn.RNN) and rnn.mode != "RNN_TANH":
        return False
    if not (rnn.batch_first and rnn.bias and not rnn.bidirectional and rnn.proj_size == 0):
        return False
    if vectors.dim() != 3 or vectors.shape[1] == 0 or vectors.shape[2] != rnn.input_size:
        return False
    tensors = [vectors, *rnn.parameters()]
    if h0 is not None:
        if h0.shape != (rnn.num_layers, vectors.shape[0], rnn.hidden_size):  # rnn() says what is wrong
            return False
        tensors.append(h0)
    return all(t.device.type == "cpu" and t.dtype == torch.float32 for t in tensors) and any(
        t.requires_grad for t in tensors
    )


def run(rnn: nn.RNN | nn.GRU, vectors: torch.Tensor, h0: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """What `rnn(vectors, h0)` returns, with the same gradients, computed by the layers here.

    vectors (batch, time, input_size), h0 (layers, batch, hidden) or None for zeros
    -> outputs (batch, time, hidden) of the last layer, h_n (layers, batch, hidden).
    In training mode with rnn.dropout > 0, each layer's output but the last passes through
    dropout on its way to the next layer, as in nn.RNN / nn.GRU (h_n holds the outputs before it).
    """
    if h0 is None:
        h0 = torch.zeros(rnn.num_layers, vectors.shape[0], rnn.hidden_size)
    layer = _GRULayer if isinstance(rnn, nn.GRU) else _RNNLayer
    dropout = rnn.dropout if rnn.training else 0.0
    x, finals = vectors, []
    for n in range(rnn.num_layers):
        if n and dropout:
            x = F.dropout(x, dropout, training=True)  # between layers only, never after the last
        weights = [getattr(rnn, f"{name}_l{n}") for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
        x = layer.apply(x, h0[n], *weights)  # (batch, time, hidden): the next layer's input
        finals.append(x[:, -1])  # the final state is the last output; its gradient flows back through x
    return x, torch.stack(finals)


class FastForward:
    """Trains through the layers here when they apply (`applies`), and is the plain torch
    module otherwise: mixed in before nn.RNN / nn.GRU, it keeps their parameters, names and
    state dict. Installed by `fast_training`."""

    def forward(self, input, hx=None):
        if applies(self, input, hx):
            return run(self, input, hx)
        return super().forward(input, hx)


class FastRNN(FastForward, nn.RNN):
    """nn.RNN with the fast training path."""


class FastGRU(FastForward, nn.GRU):
    """nn.GRU with the fast training path."""


FAST_LAYERS: dict[type[nn.Module], type[nn.Module]] = {nn.RNN: FastRNN, nn.GRU: FastGRU}


@contextmanager
def fast_training(model: nn.Module) -> Iterator[nn.Module]:
    """Within the block, `model.rnn` (a plain nn.RNN or nn.GRU) runs as FastRNN / FastGRU: the
    same module, parameters and optimizer state, its class swapped for the duration and
    restored after, also on an exception. An LSTM (torch's fused kernel is fast already) or
    an already fast layer is left alone. numpy's BLAS threads are as before after the block."""
    rnn = model.rnn
    plain = type(rnn)
    fast = FAST_LAYERS.get(plain)
    with blas_limit(torch.get_num_threads()):
        if fast is None:
            yield model
            return
        rnn.__class__ = fast
        try:
            yield model
        finally:
            rnn.__class__ = plain


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
    """One tanh RNN layer: cells.rnn_step over all time steps,
    h_t = tanh(W_xh x_t + W_hh h_{t-1} + b) with b = b_ih + b_hh."""

    @staticmethod
    @_FP32_FORWARD
    def forward(ctx, x, h0, w_ih, w_hh, b_ih, b_hh):
        BLAS.follow_torch()
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
        BLAS.follow_torch()
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
    """One GRU layer: cells.gru_step over all time steps, torch's gate order r, z, n:

    r = σ(W_ir x + b_ir + W_hr h + b_hr)
    z = σ(W_iz x + b_iz + W_hz h + b_hz)
    n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))
    h' = (1 - z) ⊙ n + z ⊙ h = n + z ⊙ (h - n)
    """

    @staticmethod
    @_FP32_FORWARD
    def forward(ctx, x, h0, w_ih, w_hh, b_ih, b_hh):
        BLAS.follow_torch()
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
        BLAS.follow_torch()
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
