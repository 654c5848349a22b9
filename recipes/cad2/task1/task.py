"""CAD2 task 1, lyric intelligibility, run as the official baseline runs it.

enhance: mixture segment normalised to -40 LUFS -> separator (vocals, accompaniment) ->
downmix with the scene's alpha (vocals x (alpha^2 + 1) + accompaniment x (1 - alpha^2)) ->
the listener's multiband compressor per ear -> 16-bit FLAC at 44.1 kHz.
evaluate: reference = vocals at +1 dB and accompaniment at -1 dB, normalised to -40 LUFS over
the whole track, cropped, through the same compressor; HAAQI per ear at 24 kHz (equalisation 2,
level1 from the amplified reference); intelligibility per ear = Whisper transcription of the
listener's hearing-loss simulation (MSBG) of that ear, correctness = hits / (S + D + H) after
text normalisation; score = alpha x better-ear correctness + (1 - alpha) x mean HAAQI.

Differences from pyclarity 0.9.0 main, following the challenge rules
(https://cadenzachallenge.org/docs/cadenza2/Lyric%20Intelligibility/lyric_evaluation; pyclarity
`recipes/cad2/task1/baseline/evaluate.py`):
- Whisper hears the MSBG output of each ear (main transcribes the unprocessed stereo signal, so
  both ears get the same transcript); each ear's correctness uses its own word count;
- text is normalised before scoring (main scores raw text, so case and punctuation count as errors);
- Whisper decodes at temperature 0, and the HAAQI noise is seeded from the scene id (main seeds
  nothing in this task), so scores are reproducible;
- the CSV column is `whisper_right` (main writes `whisper_rigth`).
A system that does not separate (`mixture`) is passed through unchanged: there are no stems
to rebalance.

Beside the task score, the separated stems are scored as SiSEC scores them (not part of the
official evaluation): for vocals and accompaniment, BSSEval v4 SDR, ISR, SIR and SAR (1 s
windows and hops, median over frames; `evaluators.sdr.bsseval_v4`), SI-SDR over the segment
and NSDR, the SDR gain over the mixture used as the estimate of that stem. The references are
the segment's vocals and accompaniment (bass + drums + other) times the gain that brought the
mixture to -40 LUFS, so they are what the separator's input is made of. Columns
`<stem>_<metric>` (dB), empty for a system without stems (`mixture`) and with
`evaluate.sdr.enabled=false`; `evaluate.sdr.backend=museval` scores with museval itself (`torch`: the
torch backend). The leaderboard gives
the median over songs of the per-song values (each song once, however many listeners).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from evaluators.lyrics import correctness
from evaluators.msbg import simulate_hearing_loss
from evaluators.sdr import aggregate_frames, bsseval_v4, sdr_settings, si_sdr
from evaluators.whisper import Transcriber
from harness.audio import read_audio, save_task_output
from harness.hearing_aid import EARS, loudness, normalise_loudness
from harness.data import MusicDataset, Song, Track, WorkItem
from harness.errors import InputError
from harness.metadata import load_json, require
from harness.scoring import haaqi_ears
from harness.systems import VOCALS
from harness.task import SceneListenerTask, legacy_rng
from submissions.package import AudioSubmission
from submissions.validate import ExpectedAudio

STEMS = ("vocals", "bass", "drums", "other")
SEPARATED = ("vocals", "accompaniment")
SDR_METRICS = ("sdr", "isr", "sir", "sar", "si_sdr", "nsdr")
SDR_COLUMNS = [f"{stem}_{metric}" for stem in SEPARATED for metric in SDR_METRICS]


def downmix(vocals: np.ndarray, accompaniment: np.ndarray, alpha: float) -> np.ndarray:
    """The official `downmix_signal`: alpha 0 keeps the balance, alpha 1 doubles the vocals."""
    vamp = alpha**2 + 1
    return vocals * vamp + accompaniment * (2 - vamp)


def _bsseval(estimates: np.ndarray, references: np.ndarray, rate: int, backend: str) -> dict[str, np.ndarray]:
    """`evaluators.sdr.bsseval_v4` with 1 s windows; where the fast backend cannot solve an
    exactly singular reference system (a dual-mono stem), museval, the reference, does."""
    try:
        return bsseval_v4(estimates, references, rate, backend=backend)
    except np.linalg.LinAlgError:
        return bsseval_v4(estimates, references, rate, backend="museval")


def separation_scores(estimates: dict[str, np.ndarray], references: dict[str, np.ndarray], mixture: np.ndarray,
                      rate: int, backend: str = "fast") -> dict[str, float]:
    """``<stem>_<metric>`` in dB for each stem of `references` ((n, 2) arrays; `estimates` as
    long): BSSEval v4 SDR/ISR/SIR/SAR (1 s windows, median over frames), SI-SDR over the whole
    signal, and NSDR = SDR(estimate) - SDR(mixture as the estimate). NaN where BSSEval has no
    frame to score (a silent reference or estimate). `backend`: ``fast`` | ``museval``."""
    names = list(references)
    refs = np.stack([np.asarray(references[k], dtype=float) for k in names])
    ests = np.stack([np.asarray(estimates[k], dtype=float) for k in names])
    try:
        framewise = _bsseval(ests, refs, rate, backend)
        unseparated = _bsseval(np.stack([np.asarray(mixture, dtype=float)] * len(names)), refs, rate, backend)["sdr"]
    except ValueError:  # a silent reference or estimate: BSSEval is undefined
        return {f"{k}_{m}": float("nan") for k in names for m in SDR_METRICS}
    medians = {m: aggregate_frames(v) for m, v in framewise.items()}
    floor = aggregate_frames(unseparated)
    out = {}
    for i, k in enumerate(names):
        out.update({f"{k}_{m}": float(medians[m][i]) for m in ("sdr", "isr", "sir", "sar")})
        out[f"{k}_si_sdr"] = si_sdr(ests[i], refs[i])
        out[f"{k}_nsdr"] = float(medians["sdr"][i] - floor[i])
    return out


def median_over_songs(column: str):
    """The leaderboard's value of an SDR column: each song once, then the median (SiSEC)."""
    return lambda scores: float(scores.drop_duplicates("song")[column].median())


class Cad2Task1(AudioSubmission, SceneListenerTask):
    task_id = "cad2/task1"
    accepts = ("separator",)
    needs = VOCALS
    score_columns = ["scene", "song", "listener", "lyrics", "hypothesis_left", "hypothesis_right", "haaqi_left",
                     "haaqi_right", "haaqi_avg", "whisper_left", "whisper_right", "whisper_be", "alpha", "score", *SDR_COLUMNS]
    primary_metric = "score"

    def make_demo(self, root: Path) -> None:
        from harness.demo.cad2_task1 import make_cad2_task1_demo

        make_cad2_task1_demo(root, seed=int(self.cfg.demo.seed), n_songs=dict(self.cfg.demo.songs),
                             listeners_per_scene=int(self.cfg.demo.listeners_per_scene))

    # data -------------------------------------------------------------------------------------
    def _segments(self, split: str) -> dict:
        return self.cached(("music", split), lambda: load_json(self.meta(f"music.{split}.json"), "music", expect=dict))

    def _scenes(self, split: str) -> dict:
        return self.cached(("scenes", split), lambda: load_json(self.meta(f"scene.{split}.json"), "scenes", expect=dict))

    def _alphas(self) -> dict:
        return self.cached("alphas", lambda: load_json(self.meta("alpha.json"), "alpha", expect=dict))

    def _song(self, split: str, segment_id: str) -> Song:
        where = f"{self.meta(f'music.{split}.json')} [{segment_id}]"
        segments = self._segments(split)
        if segment_id not in segments:
            raise InputError(where, "unknown segment")
        seg = segments[segment_id]
        require(seg, ("path", "start_time", "end_time", "text"), where)
        start, duration = float(seg["start_time"]), float(seg["end_time"]) - float(seg["start_time"])
        if duration <= 0:
            raise InputError(where, f"end_time {seg['end_time']} is not after start_time {seg['start_time']}")
        track = lambda name: Track(name, f"{seg['path']}/{name}.flac", start, duration)  # noqa: E731
        return Song(segment_id, track("mixture"), {s: track(s) for s in STEMS})

    def dataset(self, split: str) -> MusicDataset:
        songs = {sid: self._song(split, sid) for sid in self._segments(split)}
        return MusicDataset(Path(self.cfg.path.music_dir), songs, int(self.cfg.input_sample_rate), split)

    def work_items(self) -> list[WorkItem]:
        split = self.cfg.split
        scenes, alphas = self._scenes(split), self._alphas()
        items = []
        for scene_id, lid in self.scene_listener_pairs(split, scenes, self.meta(f"scene.{split}.json")):
            scene = scenes[scene_id]
            where = f"{self.meta(f'scene.{split}.json')} [{scene_id}]"
            require(scene, ("segment_id", "alpha"), where)
            if scene["alpha"] not in alphas:
                raise InputError(where, f"unknown alpha {scene['alpha']!r}")
            self._song(split, scene["segment_id"])  # validates the segment
            items.append(WorkItem(f"{scene_id}_{lid}", {"scene": scene_id, "song": scene["segment_id"], "listener": lid,
                                                         "alpha": float(alphas[scene["alpha"]])}))
        return items

    def output_name(self, item: WorkItem) -> str:
        f = item.fields
        return f"{f['scene']}_{f['listener']}_A{f['alpha']}_remix.flac"

    def output_path(self, item: WorkItem, out_dir: Path) -> Path:
        return Path(out_dir) / self.output_name(item)

    def expected_outputs(self) -> list[ExpectedAudio]:
        """One stereo 16-bit FLAC per scene-listener pair at the output rate, as long as the segment."""
        split, rate = self.cfg.split, int(self.cfg.remix_sample_rate)
        return [ExpectedAudio(self.output_name(it), rate, 2, self._song(split, it.fields["song"]).mixture.duration)
                for it in self.work_items()]

    # stages -----------------------------------------------------------------------------------
    def enhance(self, item: WorkItem, system, out_dir: Path) -> dict:
        ds = self.dataset(self.cfg.split)
        song = ds.songs[item.fields["song"]]
        rate = int(self.cfg.input_sample_rate)
        raw = ds.load_track(song.mixture, allow_silence=False)
        mixture = normalise_loudness(raw, rate, float(self.cfg.input_lufs))
        stems = system.separate(mixture.astype(np.float32), list(SEPARATED))
        separation = {}
        if set(stems) == {"mixture"}:
            signal = stems["mixture"]
        elif set(stems) == set(SEPARATED):
            signal = downmix(stems["vocals"], stems["accompaniment"], item.fields["alpha"])
            if sdr_settings(self.cfg.evaluate.get("sdr"))[0]:
                separation = self._separation_scores(ds, song, stems, mixture, raw)
        else:
            raise InputError(f"system {system.name!r}", f"returned stems {sorted(stems)}, expected vocals and accompaniment")
        listener = self.listeners(self.cfg.split)[item.fields["listener"]]
        signal = self.hearing_aid()(signal, listener)
        path = self.output_path(item, out_dir)
        clipped = save_task_output(path, signal, rate, int(self.cfg.remix_sample_rate), bool(self.cfg.soft_clip))
        return {**item.fields, "output": str(path), "clipped_samples": clipped, **separation}

    def _separation_scores(self, ds: MusicDataset, song: Song, stems: dict, mixture: np.ndarray, raw: np.ndarray) -> dict:
        """SDR family of the stems against the segment's vocals and accompaniment, scaled by the
        gain that normalised the mixture (see the module docstring)."""
        rate = ds.sample_rate
        gain = 10 ** ((float(self.cfg.input_lufs) - loudness(raw, rate)) / 20)
        truth = ds.load_instrument_stems(song)
        references = {"vocals": truth["vocals"] * gain,
                      "accompaniment": (truth["bass"] + truth["drums"] + truth["other"]) * gain}
        n = min(len(mixture), *(len(v) for v in (*references.values(), *stems.values())))
        return separation_scores({k: stems[k][:n] for k in SEPARATED}, {k: v[:n] for k, v in references.items()},
                                 mixture[:n], rate, sdr_settings(self.cfg.evaluate.get("sdr"))[1])

    def reference(self, item: WorkItem) -> np.ndarray:
        """The official reference before the hearing aid: vocals +1 dB, accompaniment -1 dB,
        normalised to -40 LUFS over the whole track, then cropped to the segment."""
        ds = self.dataset(self.cfg.split)
        song = ds.songs[item.fields["song"]]
        whole = {k: ds.load_track(Track(t.instrument, t.path)) for k, t in song.sources.items()}
        mix = whole["vocals"] * 10 ** (1 / 20) + (whole["bass"] + whole["drums"] + whole["other"]) * 10 ** (-1 / 20)
        rate = ds.sample_rate
        mix = normalise_loudness(mix, rate, float(self.cfg.input_lufs))
        start = int(song.mixture.start * rate)
        return mix[start : start + int(round(song.mixture.duration * rate))]

    def evaluate(self, item: WorkItem, out_dir: Path, enhanced: dict) -> dict:
        split = self.cfg.split
        listener = self.listeners(split)[item.fields["listener"]]
        rate = int(self.cfg.remix_sample_rate)
        processed = read_audio(self.output_path(item, out_dir), rate, channels=2)
        reference = self.hearing_aid()(self.reference(item), listener)
        rng = legacy_rng(item.fields["scene"]) if self.cfg.evaluate.set_random_seed else None
        # level1 from the amplified reference, as the official evaluate of this task
        haaqi = haaqi_ears(processed, rate, reference, int(self.cfg.input_sample_rate), reference, listener, self.cfg, rng)

        lyrics = self._segments(split)[item.fields["song"]]["text"]
        w = self.cfg.evaluate.whisper
        transcriber = Transcriber(w.backend, w.model, w.device, int(w.beam_size))  # models are cached per process
        hyp, corr = {}, {}
        for i, ear in enumerate(EARS):
            heard = simulate_hearing_loss(processed[:, i], rate, listener.audiogram(ear), float(self.cfg.evaluate.equiv_0db_spl))
            hyp[ear] = transcriber.transcribe(heard, rate)
            corr[ear] = correctness(lyrics, hyp[ear])
        alpha = item.fields["alpha"]
        haaqi_avg = float(np.mean([haaqi["left"], haaqi["right"]]))
        whisper_be = max(corr["left"], corr["right"])
        return {**item.fields, "lyrics": lyrics, "hypothesis_left": hyp["left"], "hypothesis_right": hyp["right"],
                "haaqi_left": haaqi["left"], "haaqi_right": haaqi["right"], "haaqi_avg": haaqi_avg,
                "whisper_left": corr["left"], "whisper_right": corr["right"], "whisper_be": whisper_be,
                "score": alpha * whisper_be + (1 - alpha) * haaqi_avg, **{c: enhanced.get(c) for c in SDR_COLUMNS}}

    def summary_columns(self) -> list[str]:
        return ["haaqi_avg", "whisper_be", *SDR_COLUMNS]

    def summary_reducers(self) -> dict:
        return {c: median_over_songs(c) for c in SDR_COLUMNS}

    def item_media(self, item: WorkItem, systems: dict[str, Path]):
        """The report's clips: the segment's mixture (44.1 kHz), the reference through the
        listener's hearing aid (HAAQI's reference), each system's output; the audiogram; the
        lyrics and, per system and ear, Whisper's transcription of the ear's hearing-loss
        simulation, each lyric word marked hit or missed (from the system's scores.csv)."""
        import pandas as pd

        from evaluators.lyrics import word_hits
        from harness.report.media import Clip, ItemMedia, Transcript

        split, f = self.cfg.split, item.fields
        ds = self.dataset(split)
        rate = int(self.cfg.input_sample_rate)
        listener = self.listeners(split)[f["listener"]]
        clips = [Clip("mixture (input)", ds.load_track(ds.songs[f["song"]].mixture), rate, "input"),
                 Clip("reference (hearing aid)", self.hearing_aid()(self.reference(item), listener), rate, "reference")]
        lyrics = self._segments(split)[f["song"]]["text"]
        transcripts = []
        for name, folder in systems.items():
            path = self.output_path(item, Path(folder) / "enhanced")
            if path.is_file():
                clips.append(Clip(name, read_audio(path, int(self.cfg.remix_sample_rate), channels=2),
                                  int(self.cfg.remix_sample_rate)))
            scores = pd.read_csv(Path(folder) / "scores.csv", keep_default_na=False)
            row = scores[(scores["scene"] == f["scene"]) & (scores["listener"] == f["listener"])]
            for ear in EARS if len(row) else ():
                transcripts.append(Transcript(f"{name}, {ear} ear: {row.iloc[0][f'hypothesis_{ear}']}",
                                              word_hits(lyrics, str(row.iloc[0][f"hypothesis_{ear}"])),
                                              float(row.iloc[0][f"whisper_{ear}"])))
        details = {"scene": f["scene"], "segment": f["song"], "listener": f["listener"], "alpha": f"{f['alpha']:g}"}
        return ItemMedia(f"{f['song']}, listener {f['listener']}", details, clips, self.listener_audiogram(f["listener"]),
                         reference_text=lyrics, transcripts=transcripts)


TASK = Cad2Task1
