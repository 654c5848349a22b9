"""The CLIP1 baselines as predictors: raw scores the task maps to intelligibility.

`whisper` (intrusive): better-ear word correctness of Whisper's transcription of the heard
signal against the lyrics. `stoi` (non-intrusive but for the unprocessed signal): better-ear
STOI at 10 kHz between the heard signal and the vocals a separator estimates from the
unprocessed signal (HDemucs upstream; the training-free `centre` separator by default here).
"""

from __future__ import annotations

from evaluators.stoi import better_ear_stoi
from evaluators.whisper import Transcriber, score_ears
from harness.data import PredictionItem
from harness.errors import InputError
from harness.systems import INTELLIGIBILITY, RunContext, register


@register("whisper", kind="predictor", produces=INTELLIGIBILITY,
          description="better-ear Whisper word correctness against the lyrics (CLIP1 baseline)")
class WhisperPredictor:
    name = "whisper"

    def __init__(self, cfg=None):
        self.cfg = cfg or {}
        self.transcriber = None

    def prepare(self, ctx: RunContext) -> None:
        w = ctx.cfg.evaluate.whisper
        self.transcriber = Transcriber(self.cfg.get("backend", w.backend), self.cfg.get("model", w.model),
                                       self.cfg.get("device", w.device), int(self.cfg.get("beam_size", w.beam_size)))

    def predict(self, item: PredictionItem) -> float:
        return float(score_ears(self.transcriber, item.signal, item.sample_rate, item.prompt)["better_ear"])


@register("stoi", kind="predictor", produces=INTELLIGIBILITY,
          description="better-ear STOI against vocals separated from the unprocessed signal (CLIP1 baseline)")
class StoiPredictor:
    name = "stoi"

    def __init__(self, cfg=None):
        self.cfg = cfg or {}
        self.separator_name = str(self.cfg.get("separator", "centre"))
        self.stoi_rate = int(self.cfg.get("sample_rate", 10000))
        self.separator = None

    def prepare(self, ctx: RunContext) -> None:
        self.separator = ctx.build_system(self.separator_name)
        self.separator.prepare(ctx)

    def predict(self, item: PredictionItem) -> float:
        if item.unprocessed is None:
            raise InputError(item.signal_id, "the STOI baseline needs the unprocessed signal")
        vocals = self.separator.separate(item.unprocessed, ["vocals"])["vocals"]
        return better_ear_stoi(vocals, item.signal, item.sample_rate, self.stoi_rate)
