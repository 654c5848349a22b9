"""CAD1 task 1, music over headphones, run as the official baseline runs it (pyclarity 0.9.0
``recipes/cad1/task1/baseline/{config.yaml,enhance.py,evaluate.py,test.py}``).

Items: every song of ``musdb18.<split>.json`` x every listener of ``listeners.<split>.json``
(``make_song_listener_list``), key ``<song>_<listener>``.

enhance: the song's mixture (MUSDB18-HQ, 44.1 kHz) -> separator -> 4 stereo VDBO stems -> 8
mono stems ``<side>_<source>`` -> NAL-R of that ear's audiogram on each (220 taps at 44.1 kHz,
full convolution, so 220 samples longer; the compressor off, as the official config) -> each
stem resampled to 24 kHz, divided by its peak (the peak written to ``<stem>.txt``), 16-bit FLAC
``<folder>/<L>/<song>/<L>_<song>_<side>_<source>.flac``; the remix = per side the sum of the
four amplified stems, resampled to 32 kHz, tanh soft clip, 16-bit FLAC
``<folder>/<L>/<song>/<L>_<song>_remix.flac``. ``<folder>`` is ``evaluation`` for the test
split (as ``test.py`` writes and zips it) and the split's name otherwise.

evaluate: per source (drums, bass, other, vocals, the official order) and ear, HAAQI at 24 kHz of
the stem as read back (samples x the scale in its .txt) against the raw stem's channel resampled
44.1 -> 24 kHz, equalisation 1 (HAAQI applies NAL-R to the reference itself), level1 = 65 - 20
log10(rms of the raw 44.1 kHz channel); the noise is seeded once per item from md5(song)
(``set_song_seed``), consumed drums left, drums right, bass left, ...; score = mean of the 8.
CSV ``song, listener, score, left_bass, right_bass, left_drums, ..., right_vocals``.

split=test (the submission): as ``test.py``, the stems are cut to the song's
``objective_evaluation`` segment and the remix to its ``subjective_evaluation`` segment of
``musdb18.segments.test.json``, cut at 44.1 kHz after NAL-R and before resampling
(``[int(start x 44100) : int(end x 44100)]``); evaluate then scores the objective segment
against the raw stems cut the same way (upstream has no evaluation of the test split).
``--stage package`` writes ``submission_<team_id>.zip`` of ``evaluation/...`` (stems with
their .txt, and remixes), after checking every file.

The ``mixture`` system (no separation) gives the mixture / 4 as each of the four stems: the
stems then sum to the mixture, so its remix is exactly the mixture through the listener's
NAL-R, what a listener hears through a plain NAL-R hearing aid, and each stem is scored as the
whole song at a quarter of its amplitude: the natural no-separation lower bound.

Differences from pyclarity 0.9.0 main, each a bug there:
- (a) ``evaluate.small_test`` thins the pairs in evaluate only, so enhance's batch k is not
  evaluate's; here ``pairs.small_test`` thins the one work list both stages share (and
  ``--shard`` replaces ``batch``/``batch_size``);
- (b) evaluate's rate check ``left != right != 24000`` is a chained comparison that misses a
  pair of stems both at a wrong rate; here every stem is read at 24 kHz or refused, naming it;
- (c) ``decompose_signal`` tells the separator the mixture's rate instead of the model's; here
  a separator declaring another ``sample_rate`` gets the mixture resampled to it (and its stems
  come back to 44.1 kHz);
- (e) a stem's .txt scale is required and must be a positive number (``read_flac_signal``
  silently reads a stem without one at the wrong level); a silent stem is written with scale 1
  (upstream divides by its zero peak and writes NaN);
- (f) ``test.py`` reads ``musdb18.valid.json``; here split=test reads ``musdb18.test.json``
  (``metadata.music.test``); the listeners of the test split are ``metadata.listeners.test``,
  by default ``listeners.valid.json`` as ``test.py`` reads them;
- (g) ``test.py`` zips whatever one batch wrote; here packaging refuses a set with any file
  missing, mis-named, at a wrong rate or length;
- (h) the metadata is read from ``metadata/`` as config.yaml says (the README draws
  ``metadata/musdb18hq/``);
- a track whose ``Split`` is neither ``train`` nor ``test`` is refused (upstream reads it from
  the train folder), and so is a segment outside its song (upstream's slice silently shortens it).
(d), the NAL-R group delay of the processed stems against the raw reference, is kept: HAAQI's
alignment absorbs it, and the official scores include it.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import soundfile as sf

from harness.audio import check_stems, read_audio, read_scaled_stem, resample, save_scaled_stem, save_task_output
from harness.data import MusicDataset, Song, Track, WorkItem
from harness.errors import HarnessError, InputError
from harness.hearing_aid import EARS, FixedHearingAid, NalR
from harness.metadata import load_json, load_listeners, require
from harness.scoring import haaqi_ears
from harness.systems import VDBO
from harness.task import SceneListenerTask, legacy_rng
from submissions.package import AudioSubmission
from submissions.validate import ExpectedAudio

STEMS = ("drums", "bass", "other", "vocals")  # the separation and remix order (Demucs' `sources`)
EVAL_ORDER = ("drums", "bass", "other", "vocals")  # evaluate's loop: the order the seeded noise is drawn in
SCORE_STEMS = [f"{side}_{s}" for s in ("bass", "drums", "other", "vocals") for side in EARS]
SEGMENTS = ("objective_evaluation", "subjective_evaluation")
TEST_FOLDER = "evaluation"


class Cad1Task1(AudioSubmission, SceneListenerTask):
    task_id = "cad1/task1"
    accepts = ("separator",)
    needs = VDBO
    score_columns = ["song", "listener", "score", *SCORE_STEMS]
    primary_metric = "score"
    item_columns = ("song", "listener")

    def make_demo(self, root: Path) -> None:
        from harness.demo.cad1_task1 import make_demo

        make_demo(root, **dict(self.cfg.demo))

    # metadata ---------------------------------------------------------------------------------
    def _file(self, kind: str, split: str) -> Path:
        table = self.cfg.metadata[kind]
        if split not in table:
            raise HarnessError(f"split={split!r}: metadata.{kind} names no file for it (splits: {', '.join(table)})")
        return self.meta(str(table[split]))

    def songs(self, split: str) -> dict[str, Song]:
        """Track name -> Song (mixture and the four stems) of ``musdb18.<split>.json``, in file order."""
        return self.cached(("songs", split), lambda: _load_songs(self._file("music", split)))

    def listeners(self, split: str) -> dict:
        return self.cached(("listeners", split), lambda: load_listeners(self._file("listeners", split)))

    def dataset(self, split: str) -> MusicDataset:
        """The split's songs with sources vocals, drums, bass and other (whole tracks, 44.1 kHz)."""
        return MusicDataset(Path(self.cfg.path.music_dir), self.songs(split), int(self.cfg.input_sample_rate), split)

    def work_items(self) -> list[WorkItem]:
        split = self.cfg.split
        songs, listeners = list(self.songs(split)), list(self.listeners(split))
        chosen = self.cfg.pairs
        if chosen.songs is not None:
            songs = _subset(songs, chosen.songs, self._file("music", split), "song")
        if chosen.listeners is not None:
            listeners = _subset(listeners, chosen.listeners, self._file("listeners", split), "listener")
        pairs = list(itertools.product(songs, listeners))
        if chosen.small_test:
            pairs = pairs[::15]
        return [WorkItem(f"{song}_{lid}", {"song": song, "listener": lid}) for song, lid in pairs]

    def _item(self, item: WorkItem):
        split = self.cfg.split
        return self.songs(split)[item.fields["song"]], self.listeners(split)[item.fields["listener"]]

    def song_frames(self, song: Song) -> int:
        """Samples of the song's mixture file (read from its header)."""
        path = Path(self.cfg.path.music_dir) / song.mixture.path
        return self.cached(("frames", str(path)), lambda: _frames(path))

    def segment(self, song: Song, kind: str) -> slice:
        """The samples (at the input rate) of the song's `kind` segment of the test split, as
        ``test.py`` slices them; InputError naming the entry when it is missing, malformed or
        outside the song."""
        path = self.meta(str(self.cfg.metadata.segments))
        table = self.cached("segments", lambda: load_json(path, "segments", expect=dict))
        where = f"{path} [{song.name}]"
        if song.name not in table:
            raise InputError(where, "no segments for this song")
        require(table[song.name], SEGMENTS, where)
        seg = table[song.name][kind]
        where = f"{where}[{kind}]"
        require(seg, ("start", "end"), where)
        start, end = seg["start"], seg["end"]
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and np.isfinite(v) for v in (start, end)):
            raise InputError(where, f"start and end must be finite numbers of seconds, found {start!r} and {end!r}")
        rate = int(self.cfg.input_sample_rate)
        first, last = int(start * rate), int(end * rate)
        if start < 0 or last <= first:
            raise InputError(where, f"[{start}, {end}] s is not a segment (need 0 <= start < end)")
        frames = self.song_frames(song)
        if last > frames:
            raise InputError(where, f"[{start}, {end}] s is outside the song ({frames / rate:.3f} s)")
        return slice(first, last)

    # names --------------------------------------------------------------------------------------
    def folder(self) -> str:
        return TEST_FOLDER if self.cfg.split == "test" else str(self.cfg.split)

    def stem_name(self, item: WorkItem, side: str, source: str) -> str:
        f = item.fields
        return f"{self.folder()}/{f['listener']}/{f['song']}/{f['listener']}_{f['song']}_{side}_{source}.flac"

    def remix_name(self, item: WorkItem) -> str:
        f = item.fields
        return f"{self.folder()}/{f['listener']}/{f['song']}/{f['listener']}_{f['song']}_remix.flac"

    def expected_outputs(self) -> list[ExpectedAudio]:
        """Per item: 8 mono stems at 24 kHz with their .txt scale, and the stereo remix at 32 kHz;
        as long as the test split's segments, or the song plus the NAL-R filter's tail."""
        rate, nfir = int(self.cfg.input_sample_rate), int(self.cfg.enhancer.nfir)
        out = []
        for item in self.work_items():
            song, _ = self._item(item)
            if self.cfg.split == "test":
                stem_s, remix_s = ((s.stop - s.start) / rate for s in (self.segment(song, k) for k in SEGMENTS))
            else:
                stem_s = remix_s = (self.song_frames(song) + nfir) / rate
            for source in STEMS:
                for side in EARS:
                    name = self.stem_name(item, side, source)
                    out.append(ExpectedAudio(name, int(self.cfg.stem_sample_rate), 1, stem_s,
                                             scale_file=name[: -len(".flac")] + ".txt"))
            out.append(ExpectedAudio(self.remix_name(item), int(self.cfg.remix_sample_rate), 2, remix_s))
        return out

    def submission_name(self) -> str:
        return f"submission_{self.cfg.submission.team_id}.zip"

    # stages -----------------------------------------------------------------------------------
    def hearing_aid(self):
        """NAL-R per ear (``apply_baseline_ha``), with pyclarity's Compressor after it when
        ``enhancer.apply_compressor`` (off in the official config)."""
        e, rate = self.cfg.enhancer, int(self.cfg.input_sample_rate)
        if e.apply_compressor:
            return self.cached("hearing_aid", lambda: FixedHearingAid(rate, int(e.nfir), dict(e.compressor)))
        return self.cached("hearing_aid", lambda: NalR(int(e.nfir), rate))

    def separate(self, system, mixture: np.ndarray) -> dict[str, np.ndarray]:
        """Four (n, 2) stems at the input rate, keyed drums, bass, other, vocals. A separator at
        another rate gets the mixture at its rate; ``mixture`` (no separation) gives mixture / 4
        as each stem (see the module docstring)."""
        rate = int(self.cfg.input_sample_rate)
        model_rate = int(getattr(system, "sample_rate", None) or rate)
        x = mixture if model_rate == rate else resample(mixture, rate, model_rate).astype(np.float32)
        stems = system.separate(x, list(STEMS))
        check_stems(stems, list(STEMS), x.shape, system.name)
        if model_rate != rate:
            stems = {k: _fit(resample(v, model_rate, rate), mixture.shape[0]) for k, v in stems.items()}
        if set(stems) == {"mixture"}:
            return {s: stems["mixture"] / 4 for s in STEMS}
        return {s: stems[s] for s in STEMS}

    def process(self, stems: dict[str, np.ndarray], listener) -> dict[str, np.ndarray]:
        """The 8 amplified mono stems ``<side>_<source>`` (``map_to_dict`` then
        ``process_stems_for_listener``), each (n + nfir,) at the input rate."""
        ha = self.hearing_aid()
        return {f"{side}_{s}": ha.ear(stems[s][:, i], listener, side) for s in STEMS for i, side in enumerate(EARS)}

    def enhance(self, item: WorkItem, system, out_dir: Path) -> dict:
        song, listener = self._item(item)
        ds = self.dataset(self.cfg.split)
        test = self.cfg.split == "test"
        cuts = {k: self.segment(song, k) for k in SEGMENTS} if test else {k: slice(None) for k in SEGMENTS}
        mixture = ds.load_track(song.mixture, allow_silence=False)
        processed = self.process(self.separate(system, mixture), listener)
        rate = int(self.cfg.input_sample_rate)
        for name, signal in processed.items():
            side, source = name.split("_", 1)
            save_scaled_stem(Path(out_dir) / self.stem_name(item, side, source), signal[cuts["objective_evaluation"]],
                             rate, int(self.cfg.stem_sample_rate))
        remix = np.stack([_side_sum(processed, side) for side in EARS], axis=1)
        path = Path(out_dir) / self.remix_name(item)
        clipped = save_task_output(path, remix[cuts["subjective_evaluation"]], rate, int(self.cfg.remix_sample_rate),
                                   bool(self.cfg.soft_clip))
        return {**item.fields, "output": str(path), "clipped_samples": clipped}

    def evaluate(self, item: WorkItem, out_dir: Path, enhanced: dict) -> dict:
        song, listener = self._item(item)
        ds = self.dataset(self.cfg.split)
        cut = self.segment(song, "objective_evaluation") if self.cfg.split == "test" else slice(None)
        rng = legacy_rng(song.name) if self.cfg.evaluate.set_random_seed else None
        stem_rate = int(self.cfg.stem_sample_rate)
        scores = {}
        for source in EVAL_ORDER:
            ref_path = ds.audio_root / song.sources[source].path
            reference = ds.load_track(song.sources[source])[cut]
            for i, side in enumerate(EARS):
                if not np.any(reference[:, i]):
                    raise InputError(ref_path, f"the {side} channel is silent (in the scored segment): HAAQI is undefined")
            ears = [read_scaled_stem(Path(out_dir) / self.stem_name(item, side, source), stem_rate) for side in EARS]
            if ears[0].shape != ears[1].shape:
                raise InputError(Path(out_dir) / self.stem_name(item, "right", source),
                                 f"has {ears[1].shape[0]} samples, its left stem {ears[0].shape[0]}")
            got = haaqi_ears(np.concatenate(ears, axis=1), stem_rate, reference, ds.sample_rate, reference, listener,
                             self.cfg, rng)
            for side in EARS:
                scores[f"{side}_{source}"] = got[side]
        # the mean in the official order (left_drums, right_drums, left_bass, ...), as upstream sums it
        score = float(np.mean(list(scores.values())))
        return {**item.fields, "score": score, **{c: scores[c] for c in SCORE_STEMS}}

    def summary_columns(self) -> list[str]:
        return list(SCORE_STEMS)

    def item_media(self, item: WorkItem, systems: dict[str, Path]):
        """The report's clips: the song's mixture (the separators' input, 44.1 kHz), the true
        stems through the listener's NAL-R and remixed (the oracle's remix, 44.1 kHz; HAAQI
        scores each stem against its raw reference) and each system's remix (32 kHz, as
        written); cut to the subjective segment on the test split; the listener's audiogram."""
        from harness.report.media import Clip, ItemMedia

        song, listener = self._item(item)
        ds = self.dataset(self.cfg.split)
        rate, out_rate = int(self.cfg.input_sample_rate), int(self.cfg.remix_sample_rate)
        cut = self.segment(song, "subjective_evaluation") if self.cfg.split == "test" else slice(None)
        processed = self.process(ds.load_instrument_stems(song), listener)
        reference = np.tanh(np.stack([_side_sum(processed, side) for side in EARS], axis=1))[cut]
        clips = [Clip("mixture (input)", ds.load_track(song.mixture)[cut], rate, "input"),
                 Clip("true stems through NAL-R (reference)", reference, rate, "reference")]
        for name, folder in systems.items():
            path = Path(folder) / "enhanced" / self.remix_name(item)
            if path.is_file():
                clips.append(Clip(name, read_audio(path, out_rate, channels=2), out_rate))
        f = item.fields
        return ItemMedia(f"{song.name}, listener {f['listener']}", {"song": song.name, "listener": f["listener"]},
                         clips, self.listener_audiogram(f["listener"]))


def _side_sum(processed: dict[str, np.ndarray], side: str) -> np.ndarray:
    """``remix_signal``: one side's stems summed in their order, from zeros (the same float sums)."""
    out = np.zeros(next(iter(processed.values())).shape[0])
    for name, signal in processed.items():
        if name.startswith(f"{side}_"):
            out += signal
    return out


def _fit(x: np.ndarray, n: int) -> np.ndarray:
    """`x` cut or zero-padded to `n` samples (a resampled stem back at the mixture's length)."""
    if x.shape[0] >= n:
        return x[:n]
    return np.concatenate([x, np.zeros((n - x.shape[0], *x.shape[1:]), x.dtype)])


def _frames(path: Path) -> int:
    if not path.is_file():
        raise InputError(path, "file not found")
    try:
        return sf.info(str(path)).frames
    except Exception as err:  # soundfile's own error types
        raise InputError(path, f"cannot read audio ({err})") from None


def _subset(names: list[str], wanted, path: Path, what: str) -> list[str]:
    """The `wanted` names (``pairs.songs`` / ``pairs.listeners``) in the file's order; an unknown one is an error."""
    wanted = [str(w) for w in wanted]
    unknown = [w for w in wanted if w not in names]
    if unknown:
        raise InputError(path, f"unknown {what} {unknown[0]!r} (asked for by pairs.{what}s)")
    return [n for n in names if n in wanted]


def _load_songs(path: Path) -> dict[str, Song]:
    """``musdb18.<split>.json``: a list of {"Track Name", "Split"}; each song's files are
    ``<Split>/<Track Name>/{mixture,vocals,drums,bass,other}.wav`` under the music folder."""
    records = load_json(path, "music", expect=list)
    songs: dict[str, Song] = {}
    for index, record in enumerate(records):
        where = f"{path} [{index}]"
        require(record, ("Track Name", "Split"), where)
        name, split = record["Track Name"], record["Split"]
        if not isinstance(name, str) or not name.strip() or "/" in name:
            raise InputError(where, f"'Track Name' must be a folder name, found {name!r}")
        where = f"{path} [{name}]"
        if split not in ("train", "test"):
            raise InputError(where, f"'Split' must be 'train' or 'test' (the MUSDB18-HQ folder), found {split!r}")
        if name in songs:
            raise InputError(where, "listed twice")
        folder = f"{split}/{name}"
        songs[name] = Song(name, Track("mixture", f"{folder}/mixture.wav"),
                           {s: Track(s, f"{folder}/{s}.wav") for s in ("vocals", "drums", "bass", "other")})
    if not songs:
        raise InputError(path, "lists no songs")
    return songs


TASK = Cad1Task1
