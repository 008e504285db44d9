"""The LSTM's single step written over its own weights: stepping `nn.LSTM` one token at a time spends most of its
time in per-call overhead (about 1.3 ms per token for a 2×256 model on 2 CPU cores). Here input and hidden weights
are joined into one matrix, so each layer is one `addmm` (or an int8 product) followed by in-place gate
activations; `SingleStream` steps one stream with its state in place."""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F

from ..core.model import RecurrentLM
from .quantized import RowScaledInt8Linear, int8_gates, linear_int8_operator, packed_int8, reduce_range


class FusedLSTMStep:
    """One LSTM time step for all layers, from a model's `nn.LSTM` weights (gate rows reordered to
    input, forget, output, candidate so that the three sigmoid gates are one contiguous slice)."""

    def __init__(self, model: RecurrentLM) -> None:
        rnn, hidden = model.rnn, model.config.hidden_size
        order = torch.cat([torch.arange(0, 2 * hidden), torch.arange(3 * hidden, 4 * hidden),
                           torch.arange(2 * hidden, 3 * hidden)])  # i f g o -> i f o g
        self.hidden = hidden
        self.layers = []
        with torch.no_grad():
            for layer in range(rnn.num_layers):
                w_ih, w_hh = getattr(rnn, f"weight_ih_l{layer}"), getattr(rnn, f"weight_hh_l{layer}")
                bias = getattr(rnn, f"bias_ih_l{layer}") + getattr(rnn, f"bias_hh_l{layer}")
                joined = torch.cat([w_ih, w_hh], dim=1)[order]  # (4H, in + H)
                self.layers.append((joined.t().contiguous(), bias[order].contiguous()))
            self.embedding = model.embedding.weight.detach()
            self.linear_decoder = isinstance(model.decoder, torch.nn.Linear)
            if self.linear_decoder:
                self.decoder_weight = model.decoder.weight.detach().t().contiguous()  # (H, V)
                self.decoder_bias = model.decoder.bias.detach()
            else:
                self.adaptive_decoder = model.decoder  # an adaptive softmax: its exact log-probabilities

    def decode(self, h: torch.Tensor, int8: bool = False) -> torch.Tensor:
        """Next-token logits (B, V) after the last layer's h (B, H); with `int8`, from int8 weights where there
        are some."""
        if self.linear_decoder:
            if int8 and self.batch_int8 is not None:
                return self.batch_int8[1](h)
            return torch.addmm(self.decoder_bias, h, self.decoder_weight)
        with torch.no_grad():
            return self.adaptive_decoder(h)

    def __call__(self, tokens: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor], int8: bool = False
                 ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """The next-token logits (B, V) and the new state; with `int8`, from int8 weights where this PyTorch
        build has a quantized engine (a 3×512 model over 8,192 pieces at batch 10: 0.4 ms a step, against 2.3 in
        fp32, on an Intel Xeon with AMX)."""
        hidden = self.hidden
        x = F.embedding(tokens, self.embedding)  # (B, E)
        h_all, c_all = state  # (L, B, H) each
        new_h, new_c = [], []
        int8_layers = self.batch_int8[0] if int8 and self.batch_int8 is not None else None
        for layer, (weight, bias) in enumerate(self.layers):
            gates = (int8_layers[layer](x, h_all[layer]) if int8_layers is not None
                     else torch.addmm(bias, torch.cat((x, h_all[layer]), dim=1), weight))  # (B, 4H)
            gates[:, : 3 * hidden].sigmoid_()
            gates[:, 3 * hidden:].tanh_()
            input_gate, forget_gate, output_gate, candidate = gates.split(hidden, dim=1)
            cell = torch.addcmul(forget_gate * c_all[layer], input_gate, candidate)  # c' = f*c + i*g
            x = output_gate * torch.tanh(cell)  # h' = o * tanh(c')
            new_h.append(x)
            new_c.append(cell)
        return self.decode(x, int8), (torch.stack(new_h), torch.stack(new_c))

    @functools.cached_property
    def int8_layers(self) -> list | None:
        """The gate weights quantized to int8 per output row and packed for fbgemm's dynamic int8 linear (batch 1),
        or None where this PyTorch build has no quantized engine."""
        packed = [packed_int8(weight_t.t(), bias) for weight_t, bias in self.layers]  # (4H, in + H) each
        return None if any(layer is None for layer in packed) else packed

    @functools.cached_property
    def batch_int8(self) -> tuple[list, object] | None:
        """Each layer's int8 gates and the int8 decoder for batches (a scale per row: decoding/quantized.py), or
        None without a quantized engine or with an adaptive softmax."""
        if not self.linear_decoder:
            return None
        embed, wide = self.embedding.shape[1], bool(self.embedding.abs().max() > 1)
        layers = [int8_gates(weight_t, bias, embed if layer == 0 else self.hidden, split=layer == 0 and wide)
                  for layer, (weight_t, bias) in enumerate(self.layers)]
        decoder = RowScaledInt8Linear.of(self.decoder_weight.t(), self.decoder_bias)
        return None if decoder is None or any(layer is None for layer in layers) else (layers, decoder)


class SingleStream:
    """One stream of text stepped a token at a time with its LSTM state kept inside and every buffer reused:
    the fast path for sampling, where a step costs about as much as reading the weights once. With `int8` the
    gate matmuls use int8 weights (fbgemm's dynamic int8 linear: one stream, so one scale per row anyway), which
    halves that; log-probabilities move about as much as the batched int8 step's (Stepper)."""

    def __init__(self, cell: FusedLSTMStep, state: tuple[torch.Tensor, torch.Tensor], int8: bool = True) -> None:
        self.cell, self.hidden = cell, cell.hidden
        packed = cell.int8_layers if int8 else None
        self.layers = packed or [(w.t().contiguous(), b) for w, b in cell.layers]
        self.int8 = packed is not None
        self.linear_int8 = linear_int8_operator() if self.int8 else None
        self.reduce_range = reduce_range()
        self.decoder_weight = cell.decoder_weight.t().contiguous() if cell.linear_decoder else None  # (V, H)
        h_all, c_all = state
        embed = cell.embedding.shape[1]
        # Each layer reads [input | previous h] from one buffer; its new h is written back in place, and into the
        # next layer's buffer. Views into the buffers are made once, here, not on every token.
        self.inputs = [torch.cat([torch.zeros(1, embed if layer == 0 else self.hidden), h_all[layer]], dim=1)
                       for layer in range(len(self.layers))]
        self.token_slot = self.inputs[0][0, :embed]
        self.h_views = [both[0, -self.hidden:] for both in self.inputs]
        self.next_inputs = [following[0, : self.hidden] for following in self.inputs[1:]] + [None]
        self.cells = [c_all[layer][0].clone() for layer in range(len(self.layers))]
        self.scratch = torch.empty(self.hidden)

    def step(self, token_id: int) -> torch.Tensor:
        """Feed one token; the next-token logits (V,). (No inference_mode: no tensor here tracks gradients, and
        entering the mode would cost microseconds on every token.)"""
        self.token_slot.copy_(self.cell.embedding[token_id])
        for both, weights, cell, h, following in zip(self.inputs, self.layers, self.cells, self.h_views,
                                                     self.next_inputs):
            gates = (self.linear_int8(both, weights, self.reduce_range) if self.int8
                     else F.linear(both, weights[0], weights[1]))
            gates = gates.view(4, self.hidden)
            gates[:3].sigmoid_()
            gates[3].tanh_()
            input_gate, forget_gate, output_gate, candidate = gates.unbind(0)
            cell.mul_(forget_gate).addcmul_(input_gate, candidate)  # c' = f*c + i*g
            torch.mul(output_gate, torch.tanh(cell, out=self.scratch), out=h)  # h' = o * tanh(c')
            if following is not None:
                following.copy_(h)
        if self.decoder_weight is None:
            return self.cell.decode(h[None])[0]
        return torch.addmv(self.cell.decoder_bias, self.decoder_weight, h)
