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
from harness.options import read_options
from harness.systems import INTELLIGIBILITY, RunContext, register


@register("whisper", kind="predictor", produces=INTELLIGIBILITY, compare_with=("stoi",),
          description="better-ear Whisper word correctness against the lyrics (CLIP1 baseline)")
class WhisperPredictor:
    name = "whisper"

    def __init__(self, cfg=None):
        # null: the recipe's evaluate.whisper setting
        self.options = read_options(self.name, cfg, {"backend": None, "model": None, "device": None, "beam_size": None})
        self.transcriber = None

    def prepare(self, ctx: RunContext) -> None:
        w = ctx.cfg.evaluate.whisper
        o = {k: (w[k] if v is None else v) for k, v in self.options.items()}
        self.transcriber = Transcriber(o["backend"], o["model"], o["device"], int(o["beam_size"]))

    def predict(self, item: PredictionItem) -> float:
        return float(score_ears(self.transcriber, item.signal, item.sample_rate, item.prompt)["better_ear"])


@register("stoi", kind="predictor", produces=INTELLIGIBILITY,
          description="better-ear STOI against vocals separated from the unprocessed signal (CLIP1 baseline)")
class StoiPredictor:
    name = "stoi"

    def __init__(self, cfg=None):
        options = read_options(self.name, cfg, {"separator": "centre", "sample_rate": 10000})
        self.separator_name = str(options["separator"])
        self.stoi_rate = int(options["sample_rate"])
        self.separator = None

    def prepare(self, ctx: RunContext) -> None:
        self.separator = ctx.build_system(self.separator_name)
        self.separator.prepare(ctx)

    def predict(self, item: PredictionItem) -> float:
        if item.unprocessed is None:
            raise InputError(item.signal_id, "the STOI baseline needs the unprocessed signal")
        vocals = self.separator.separate(item.unprocessed, ["vocals"])["vocals"]
        return better_ear_stoi(item.signal, vocals, item.sample_rate, self.stoi_rate)
