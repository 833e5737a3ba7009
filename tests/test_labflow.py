"""The Memory lab's shipped gradient flows (charmodels/data/lab_flows.json) are what
`python -m charmodels.labflow` computes, and they show the lesson the page draws from them."""

from __future__ import annotations

import numpy as np
import torch

from charmodels import labflow


def test_the_shipped_flows_are_reproduced():
    torch.set_num_threads(1)
    gap = labflow.GAPS[0]
    fresh, shipped = labflow.compute(gap), labflow.shipped()[gap]
    assert set(fresh) == set(shipped) == {"rnn", "lstm", "gru"}
    for cell, flow in fresh.items():
        kept = shipped[cell]
        assert (flow.text, flow.position, flow.target, flow.lines) == (kept.text, kept.position, kept.target, kept.lines)
        for name in ("input_norms", "hidden_norms"):
            assert np.allclose(getattr(flow, name), getattr(kept, name), rtol=1e-4, atol=1e-30), (cell, name)
        assert abs(flow.target_prob - kept.target_prob) < 1e-5


def test_every_gap_ships_and_the_rnns_gradient_vanishes_with_distance():
    flows = labflow.shipped()
    assert sorted(flows) == list(labflow.GAPS)
    for gap, by_cell in flows.items():
        for flow in by_cell.values():
            assert flow.position == gap + 1 and len(flow.input_norms) == gap + 1 and flow.lines == labflow.LINES
    far = flows[max(labflow.GAPS)]["rnn"]
    # the first letter (distance gap + 1) against the character just read (distance 1)
    assert far.input_norms[0] < 1e-6 * far.input_norms[-1]
