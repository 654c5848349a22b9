"""CAD2 task 2, rebalancing classical music, run as the official baseline runs it.

enhance: mixture segment -> separator -> per-instrument LUFS gains -> remix -> level
adjustment -> the listener's multiband compressor per ear -> 16-bit FLAC at 32 kHz.
evaluate: ground-truth sources (cropped to the scene's segment) -> the same gains, remix,
level and compressor -> HAAQI per ear at 24 kHz, equalisation 2, level1 from the reference's
RMS, noise seeded from the scene id.

Differences from pyclarity 0.9.0 main, following the challenge rules
(https://cadenzachallenge.org/docs/cadenza2/Rebalancing%20Classical/rebalancing_evaluation; pyclarity
`recipes/cad2/task2/baseline/evaluate.py` and `enhance.py`):
- the reference is cropped to the scene's segment (main forgets to; fixed on the v0.6 branch);
- two voices of one instrument are one separated stem with the mean of their gains (as
  `check_repeated_source`), counted once; main separates the instrument once per voice and
  sums both copies, doubling it; with two repeated instruments, main's `check_repeated_source`
  pools all their voices into one mean, where we average per instrument (`stem_gains`);
- output folders come from the split name, not from the scene-id ranges whose bounds are off
  by one on main.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from evaluators.sdr import median_sdr, museval_sdr, sdr_settings
from harness.audio import check_stems, read_audio, save_task_output
from harness.cache import content_key
from harness.hearing_aid import adjust_level, apply_gains, remix
from harness.data import MusicDataset, Song, Track, WorkItem
from harness.demo.cad2_task2 import make_demo
from harness.instruments import family
from harness.errors import InputError
from harness.files import atomic_write
from harness.metadata import check_gain_set, load_json, require
from harness.scoring import haaqi_ears
from harness.systems import INSTRUMENTS
from harness.task import SceneListenerTask, legacy_rng
from submissions.package import AudioSubmission
from submissions.validate import ExpectedAudio


class Cad2Task2(AudioSubmission, SceneListenerTask):
    task_id = "cad2/task2"
    accepts = ("separator",)
    needs = INSTRUMENTS
    score_columns = ["scene", "song", "listener", "left_haaqi", "right_haaqi", "avg_haaqi", "family", "sdr"]
    primary_metric = "avg_haaqi"
    breakdown = "family"

    # data -------------------------------------------------------------------------------------
    def make_demo(self, root: Path) -> None:
        make_demo(root, **dict(self.cfg.demo))

    def _scenes_file(self, split: str) -> Path:
        # the official config names scenes.<split>.json; the Zenodo package ships scene.<split>.json
        for name in (f"scenes.{split}.json", f"scene.{split}.json"):
            if self.meta(name).is_file():
                return self.meta(name)
        return self.meta(f"scenes.{split}.json")

    def _load(self, what: str, split: str):
        loaders = {
            "songs": lambda: self._load_songs(self.meta(f"music.{split}.json")),
            "listeners": lambda: self.listeners(split),
            "scenes": lambda: load_json(self._scenes_file(split), "scenes", expect=dict),
            "gains": lambda: load_json(self.meta("gains.json"), "gains", expect=dict),  # shared by the splits
        }
        return self.cached((what, split), loaders[what])

    @staticmethod
    def _load_songs(path: Path) -> dict[str, Song]:
        songs = {}
        for name, entry in load_json(path, "music", expect=dict).items():
            where = f"{path} [{name}]"
            require(entry, ("mixture",), where)
            tracks = {}
            for key, t in entry.items():
                require(t, ("track", "instrument"), f"{where}[{key}]")
                tracks[key] = Track(t["instrument"].split("_")[0], t["track"], float(t.get("start", 0.0)),
                                    None if t.get("duration") is None else float(t["duration"]))
            mixture = tracks.pop("mixture")
            if not tracks:
                raise InputError(where, "no sources besides the mixture")
            songs[name] = Song(name, mixture, tracks)
        return songs

    def dataset(self, split: str) -> MusicDataset:
        return MusicDataset(Path(self.cfg.path.music_dir), self._load("songs", split), int(self.cfg.input_sample_rate), split)

    def work_items(self) -> list[WorkItem]:
        split = self.cfg.split
        scenes, songs, gains = self._load("scenes", split), self._load("songs", split), self._load("gains", split)
        items = []
        for scene_id, lid in self.scene_listener_pairs(split, scenes, self._scenes_file(split)):
            where = f"{self._scenes_file(split)} [{scene_id}]"
            scene = scenes[scene_id]
            require(scene, ("music", "gain"), where)
            if scene["music"] not in songs:
                raise InputError(where, f"unknown song {scene['music']!r}")
            if scene["gain"] not in gains:
                raise InputError(where, f"unknown gain set {scene['gain']!r}")
            song = songs[scene["music"]]
            check_gain_set(gains[scene["gain"]], song.sources, f"{self.meta('gains.json')} [{scene['gain']}]",
                           f"song {song.name!r}")
            items.append(WorkItem(f"{scene_id}_{lid}", {"scene": scene_id, "song": song.name, "listener": lid}))
        return items

    def _scene_context(self, split: str, scene_id: str, listener_id: str):
        scene = self._load("scenes", split)[scene_id]
        song = self._load("songs", split)[scene["music"]]
        listener = self._load("listeners", split)[listener_id]
        gains = {k: float(v) for k, v in self._load("gains", split)[scene["gain"]].items() if k in song.sources}
        return song, listener, gains

    def _item_context(self, item: WorkItem):
        return self._scene_context(self.cfg.split, item.fields["scene"], item.fields["listener"])

    def output_name(self, item: WorkItem) -> str:
        """The official name, inside the enhanced folder (and the submission)."""
        return f"{self.cfg.split}/{item.fields['scene']}_{item.fields['listener']}_remix.flac"

    def output_path(self, item: WorkItem, out_dir: Path) -> Path:
        return Path(out_dir) / self.output_name(item)

    def expected_outputs(self) -> list[ExpectedAudio]:
        songs = self._load("songs", self.cfg.split)
        rate = int(self.cfg.remix_sample_rate)
        return [ExpectedAudio(self.output_name(it), rate, 2, _segment_seconds(songs[it.fields["song"]], self.dataset(self.cfg.split)))
                for it in self.work_items()]

    # stages -----------------------------------------------------------------------------------
    def enhance(self, item: WorkItem, system, out_dir: Path) -> dict:
        song, listener, gains = self._item_context(item)
        ds = self.dataset(self.cfg.split)
        mixture = ds.load_track(song.mixture, allow_silence=False)
        stems = system.separate(mixture, song.instruments)
        check_stems(stems, song.instruments, mixture.shape, system.name)
        signal = self._rebalanced(stems, song, listener, gains)
        rate = int(self.cfg.input_sample_rate)
        path = self.output_path(item, out_dir)
        clipped = save_task_output(path, signal, rate, int(self.cfg.remix_sample_rate), bool(self.cfg.soft_clip))
        record = {**item.fields, "output": str(path), "clipped_samples": clipped, "family": _family(song)}
        if sdr_settings(self.cfg.evaluate.get("sdr"))[0] and "mixture" not in stems:
            record["sdr"] = self._song_sdr(ds, song, stems, Path(out_dir).parent / "sdr", system.name)
        return record

    def _song_sdr(self, ds: MusicDataset, song: Song, stems: dict, memo_dir: Path, system: str) -> float:
        """Median SDR over the song's instruments, memoised per (system, segment): listeners share it."""
        references = ds.load_instrument_stems(song)
        backend = sdr_settings(self.cfg.evaluate.get("sdr"))[1]  # fast | torch | museval (the reference)
        identity = system if backend == "fast" else f"{system}/{backend}"
        path = memo_dir / f"{content_key(stems[song.instruments[0]], song.instruments, identity)}.json"
        if path.exists():
            return json.loads(path.read_text())["median"]
        per_stem = museval_sdr({k: stems[k] for k in references}, references, ds.sample_rate, backend=backend)
        result = {"song": song.name, "per_stem": per_stem, "median": median_sdr(per_stem)}
        atomic_write(path, lambda tmp: Path(tmp).write_text(json.dumps(result)))
        return result["median"]

    def _rebalanced(self, stems: dict, song: Song, listener, gains: dict) -> np.ndarray:
        """The listener's signal from separated stems: gains, remix, level, hearing aid (44.1 kHz)."""
        rate = int(self.cfg.input_sample_rate)
        signal = adjust_level(remix(apply_gains(stems, rate, {**stem_gains(song, gains), "mixture": 0.0})), gains.values())
        return self.hearing_aid()(signal, listener)

    def reference(self, item: WorkItem) -> tuple[np.ndarray, np.ndarray]:
        """(reference mixture before the hearing aid, reference after it), both (n, 2) at 44.1 kHz."""
        song, listener, gains = self._item_context(item)
        return self._reference(self.dataset(self.cfg.split), song, listener, gains, item.fields["scene"])

    def _reference(self, ds: MusicDataset, song: Song, listener, gains: dict, scene_id: str):
        sources = {}
        for key, track in song.sources.items():
            # the scored segment is the mixture's, as the challenge rules define it
            sources[key] = ds.load_track(Track(track.instrument, track.path, song.mixture.start, song.mixture.duration))
        rate = int(self.cfg.input_sample_rate)
        mixture = adjust_level(remix(apply_gains(sources, rate, gains)), gains.values())
        if not np.any(mixture):
            raise InputError(f"scene {scene_id}", "reference is silent")
        return mixture, self.hearing_aid()(mixture, listener)

    def _haaqi(self, processed: np.ndarray, processed_rate: int, ref_mixture: np.ndarray, reference: np.ndarray,
               listener, scene_id: str) -> dict[str, float]:
        rng = legacy_rng(scene_id) if self.cfg.evaluate.set_random_seed else None
        # level1 from the reference before the hearing aid, as the official evaluate
        ears = haaqi_ears(processed, processed_rate, reference, int(self.cfg.input_sample_rate),
                          ref_mixture, listener, self.cfg, rng)
        return {"left_haaqi": ears["left"], "right_haaqi": ears["right"], "avg_haaqi": float(np.mean(list(ears.values())))}

    def evaluate(self, item: WorkItem, out_dir: Path, enhanced: dict) -> dict:
        _, listener, _ = self._item_context(item)
        processed = read_audio(self.output_path(item, out_dir), int(self.cfg.remix_sample_rate), channels=2)
        ref_mixture, reference = self.reference(item)
        scores = self._haaqi(processed, int(self.cfg.remix_sample_rate), ref_mixture, reference, listener, item.fields["scene"])
        return {**item.fields, **scores, "family": enhanced.get("family"), "sdr": enhanced.get("sdr")}

    def score_separations(self, split: str, song_name: str, separations: dict[str, dict],
                          max_pairs: int | None = None) -> dict[str, list[float]]:
        """HAAQI (mean of the ears) of each candidate separation of a song (label -> stems of the
        song's scored segment) for the split's (scene, listener) pairs of that song, at most
        `max_pairs` of them, each scored as enhance + evaluate would (without the 16-bit 32 kHz
        file in between); each pair's reference is made once for all candidates. Lets a system
        choose between separations of songs it did not train on by the task's own score; empty
        lists when the split has no scene for the song (or no scene files at all)."""
        scores: dict[str, list[float]] = {label: [] for label in separations}
        if not (self._scenes_file(split).is_file() and self.meta(f"scene_listeners.{split}.json").is_file()):
            return scores
        scenes = self._load("scenes", split)
        ds = self.dataset(split)
        rate = int(self.cfg.input_sample_rate)
        pairs = [pair for pair in self.scene_listener_pairs(split, scenes, self._scenes_file(split))
                 if scenes[pair[0]]["music"] == song_name]
        for scene_id, listener_id in pairs[:max_pairs]:
            song, listener, gains = self._scene_context(split, scene_id, listener_id)
            ref_mixture, reference = self._reference(ds, song, listener, gains, scene_id)
            for label, stems in separations.items():
                processed = self._rebalanced(stems, song, listener, gains)
                scores[label].append(self._haaqi(processed, rate, ref_mixture, reference, listener, scene_id)["avg_haaqi"])
        return scores

    def summary_columns(self) -> list[str]:
        return ["left_haaqi", "right_haaqi", "sdr"]

    def item_media(self, item: WorkItem, systems: dict[str, Path]):
        """The report's clips: the scene's mixture (the separators' input, 44.1 kHz), HAAQI's
        reference (the target balance through the listener's hearing aid, 44.1 kHz) and each
        system's output (32 kHz, as submitted); the listener's audiogram."""
        from harness.report.media import Clip, ItemMedia

        song, _, gains = self._item_context(item)
        rate, out_rate = int(self.cfg.input_sample_rate), int(self.cfg.remix_sample_rate)
        mixture = self.dataset(self.cfg.split).load_track(song.mixture)
        clips = [Clip("mixture (input)", mixture, rate, "input"), Clip("reference (target balance, hearing aid)", self.reference(item)[1], rate, "reference")]
        for name, folder in systems.items():
            path = self.output_path(item, Path(folder) / "enhanced")
            if path.is_file():
                clips.append(Clip(name, read_audio(path, out_rate, channels=2), out_rate))
        f = item.fields
        details = {"scene": f["scene"], "song": song.name, "listener": f["listener"], "family": _family(song),
                   "gains (dB)": ", ".join(f"{k} {v:+.1f}" for k, v in gains.items())}
        return ItemMedia(f"{song.name}, listener {f['listener']}", details, clips, self.listener_audiogram(f["listener"]))

    def summary_reducers(self) -> dict:
        return {"sdr": median_over_songs}


def median_over_songs(scores) -> float:
    """SDR as SiSEC reports it: each song's value (median over its 1 s frames, then over its
    stems) once, then the median over songs; items repeat a song once per scene and listener."""
    return float(scores.drop_duplicates("song")["sdr"].median())


def _segment_seconds(song: Song, ds: MusicDataset) -> float:
    if song.mixture.duration is not None:
        return song.mixture.duration
    import soundfile as sf

    info = sf.info(str(ds.audio_root / song.mixture.path))
    return info.frames / info.samplerate - song.mixture.start


def stem_gains(song: Song, gains: dict[str, float]) -> dict[str, float]:
    """Gain (dB) of each instrument's separated stem: the mean of the gains of its voices.

    A separator returns one stem per instrument, so two voices of one instrument share one
    gain. pyclarity's ``check_repeated_source`` (``recipes/cad2/task2/baseline/enhance.py``)
    pools the voices of *every* repeated instrument into one mean (Violin 6/0 dB with Viola
    -6/0 dB gives 0 dB to all four); the rules give each instrument its own gains, so we
    average per instrument (Violin 3 dB, Viola -3 dB). The two agree when at most one
    instrument is repeated, as in every song of the official data we know of."""
    by_instrument: dict[str, list[float]] = {}
    for key, track in song.sources.items():
        by_instrument.setdefault(track.instrument, []).append(float(gains[key]))
    return {inst: float(np.mean(g)) for inst, g in by_instrument.items()}


def _family(song: Song) -> str:
    """Strings or winds by the majority of the song's sources; a tie is 'mixed' (Stergioulis
    and Petroglou's results table splits its set into string and wind subsets without saying how)."""
    fams = [family(t.instrument) for t in song.sources.values()]
    strings, winds = fams.count("strings"), fams.count("winds")
    return "strings" if strings > winds else "winds" if winds > strings else "mixed"


TASK = Cad2Task2
