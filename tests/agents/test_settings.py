"""DecoderSettings: defaults, bounds, no unknown fields, merging."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from beadline.agents.errors import UserError
from beadline.agents.settings import DecoderSettings, merge_settings


def test_defaults_are_from_the_papers_reference_values() -> None:
    s = DecoderSettings()
    assert (s.s, s.t, s.d, s.k, s.gamma) == (2, 0.75, 2, 1, 1.0)
    assert s.max_new_tokens == 512 and s.early_stop_agreements == 4
    assert s.strategy == "cfg" and s.prompt_type == "auto" and s.stop_after_blocks is None
    assert (s.beam_width, s.beam_candidates, s.alpha, s.beta) == (3, 3, 1.0, 2.0)
    assert s.label() == "cfg s=2 t=0.75 d=2 k=1 γ=1 auto"


def test_frozen_bounded_and_closed() -> None:
    s = DecoderSettings()
    with pytest.raises(ValidationError):
        s.s = 3  # type: ignore[misc]
    with pytest.raises(ValidationError, match="greater than or equal to 1"):
        DecoderSettings(s=0)
    with pytest.raises(ValidationError, match="Extra inputs"):
        DecoderSettings(gama=1.0)  # type: ignore[call-arg]
    with pytest.raises(ValidationError):
        DecoderSettings(strategy="greedy")  # type: ignore[arg-type]
    assert all(f.description for f in DecoderSettings.model_fields.values())


def test_merge_settings_overrides_win_and_none_is_ignored() -> None:
    base = DecoderSettings(s=3, gamma=0.5)
    merged = merge_settings(base, {"gamma": 3.0, "d": None})
    assert (merged.s, merged.gamma, merged.d) == (3, 3.0, 2)
    assert merge_settings(None, None) == DecoderSettings()
    # a settings object as overrides: only its explicitly set fields win
    assert merge_settings(base, DecoderSettings(d=5)) == DecoderSettings(s=3, gamma=0.5, d=5)


def test_merge_settings_names_the_bad_field() -> None:
    with pytest.raises(UserError, match=r"t: .*less than or equal to 2.*got 7"):
        merge_settings(DecoderSettings(), {"t": 7})
    with pytest.raises(UserError, match="nonsense"):
        merge_settings(DecoderSettings(), {"nonsense": 1})
