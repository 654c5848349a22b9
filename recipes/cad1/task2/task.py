"""CAD1 task 2, music for a listener in a car, run as the official baseline runs it (pyclarity
0.9.0 ``recipes/cad1/task2/baseline/enhance.py``, ``evaluate.py`` and ``car_scene_acoustics.py``).

Items are the (scene, listener) pairs of ``scenes_listeners.json`` whose scene belongs to the
scored split (``scenes.json`` lists both splits), keyed ``<scene>_<listener>``.

enhance: the song (44.1 kHz, mono duplicated, brought under full scale if it peaks above it, as
upstream's ``read_mp3``) -> the system (an enhancer, or a VDBO separator whose stems are summed;
``mixture`` passes the song) -> the official baseline's level step (``enhance.listener_loudness``):
the song attenuated to -14 LUFS, or to -19 - (HL - 50) / 5 LUFS for an average hearing loss HL
>= 50 dB (the worse ear's mean at 0.5, 1, 2 and 4 kHz), never amplified -> 32 kHz, clipping,
16-bit FLAC ``<split>/<listener>/<scene>_<listener>_<song>.flac``. With ``mixture`` this is the
official baseline.
evaluate (``harness.car_scene.CarScene``): car noise from the scene's parameters, through the
anechoic responses at 0/-90/+90 degrees; the enhanced signal through the car responses of the
scene's head rotation; the noise scaled to the scene's SNR by loudness; the fixed hearing aid
(NAL-R, 220 taps, then the single-band compressor) per ear; clipping. The reference is the song
through the anechoic responses, at the processed signal's loudness capped at -14 LUFS. HAAQI per
ear at 44.1 kHz with upstream's defaults (equalisation 1, level1 65 dB); one RandomState seeded
from the scene id draws the noise and then HAAQI's, as upstream's single ``np.random.seed``.
CSV ``scene, song, genre, listener, score, haaqi_left, haaqi_right`` as upstream, then ``snr``
and ``snr_band``; the leaderboard breaks the score down by genre and by SNR band.

Differences from pyclarity 0.9.0 main:
- evaluate reads the 32 kHz output and resamples it to 44.1 kHz before the car scene. Main
  asserts the file is 32 kHz and then hands it on as 44.1 kHz (``evaluate.py``:
  ``config.sample_rate``), so the music plays 1.38 times too fast against the reference and
  main's scores are not comparable with the published 0.1423;
- the noise lasts the song plus 20 %, rounded up to whole seconds; main's ``CarSceneAcoustics``
  is built with a fixed ``track_duration=30`` (36 s of noise), which truncates longer songs;
- merging needs no batch files: ``merge_batches_results.py`` reads ``scores_{batch}-{n}.csv``
  where evaluate writes ``scores_{batch + 1}-{n}.csv`` (and fails on batch 0);
- the level rule is as the code has it (the docstring of ``enhance_song`` says -11 LUFS).
- ``--stage package`` writes ``submission_<team_id>.zip`` of ``<split>/<L>/...flac`` after
  checking every file (name, 32 kHz, stereo, 16-bit, length), as upstream's ``test.py`` zips
  ``enhanced_signals/<split>`` unchecked.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

from evaluators.resample import resample
from harness import leaderboard
from harness.audio import check_signal, check_stems, read_audio, save_task_output
from harness.car_scene import CarScene
from harness.data import Listener, MusicDataset, Song, Track, WorkItem
from harness.errors import InputError
from harness.hearing_aid import loudness, normalise_loudness, remix
from harness.metadata import require
from harness.registry import chain_kind
from harness.scoring import haaqi_ears
from harness.systems import VDBO
from harness.task import SceneListenerTask, legacy_rng
from submissions.package import AudioSubmission
from submissions.validate import ExpectedAudio

STEMS = ("vocals", "drums", "bass", "other")
AVERAGE_HL_FREQUENCIES = np.array([500, 1000, 2000, 4000])
SPEED_KPH = (50.0, 120.0)  # the range of pyclarity's CarNoiseParametersGenerator
SNR_RANGE_DB = (-20.0, 40.0)  # plausible scene SNRs (the official scenes: 0..15 dB)
SNR_BANDS = ((5.0, "0-5 dB"), (10.0, "5-10 dB"), (np.inf, "10-15 dB"))


def average_hearing_loss(listener: Listener) -> float:
    """The worse ear's mean hearing level (dB HL) at 0.5, 1, 2 and 4 kHz (upstream's
    ``compute_average_hearing_loss``)."""
    return max(float(np.mean(listener.audiogram(ear).resample(AVERAGE_HL_FREQUENCIES).levels)) for ear in ("left", "right"))


def listener_level(signal: np.ndarray, listener: Listener, sample_rate: int, average_level: float, min_level: float) -> np.ndarray:
    """Upstream's ``enhance_song``: (n, 2) attenuated to `average_level` LUFS, or for an average
    hearing loss HL >= 50 dB to `min_level` - (HL - 50) / 5 LUFS; never amplified."""
    hl = average_hearing_loss(listener)
    target = min_level - max((hl - 50) / 5, 0) if hl >= 50 else average_level
    return normalise_loudness(signal, sample_rate, target) if loudness(signal, sample_rate) > target else signal


def snr_band(snr: float) -> str:
    return next(label for upper, label in SNR_BANDS if snr < upper)


def read_song(path: Path, sample_rate: int) -> np.ndarray:
    """A song as upstream's ``read_mp3`` gives it: (n, 2) float64 at `sample_rate` (resampled
    if need be), a mono file duplicated, divided by its peak when that exceeds 1."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "file not found")
    try:
        signal, rate = sf.read(str(path), dtype="float64", always_2d=True)
    except Exception as err:  # soundfile's own error types
        raise InputError(path, f"cannot decode audio ({err})") from None
    if signal.shape[1] not in (1, 2):
        raise InputError(path, f"has {signal.shape[1]} channels, expected 1 or 2")
    check_signal(signal, path, allow_silence=False)
    if rate != sample_rate:
        signal = resample(signal, rate, sample_rate)
    if signal.shape[1] == 1:
        signal = np.repeat(signal, 2, axis=1)
    peak = np.max(np.abs(signal))
    return signal / peak if peak > 1 else signal


class Cad1Task2(AudioSubmission, SceneListenerTask):
    task_id = "cad1/task2"
    accepts = ("separator", "enhancer")
    needs = VDBO
    score_columns = ["scene", "song", "genre", "listener", "score", "haaqi_left", "haaqi_right", "snr", "snr_band"]
    primary_metric = "score"
    compressor_fittings = False  # audiograms only: the fixed hearing aid needs no fitting
    breakdown = "genre"

    # data -------------------------------------------------------------------------------------
    def make_demo(self, root: Path) -> None:
        from harness.demo.cad1_task2 import make_demo

        make_demo(root, **dict(self.cfg.demo))


    def _scenes(self) -> dict:
        return self.metadata_json("scenes.json", "scenes")

    def _split_scenes(self, split: str) -> dict:
        out = {}
        for scene_id, scene in self._scenes().items():
            require(scene, ("song", "song_path", "hr", "car_noise_parameters", "snr", "split"), f"{self.meta('scenes.json')} [{scene_id}]")
            if scene["split"] == split:
                out[scene_id] = scene
        return out

    def _responses(self, split: str, scene_id: str, scene: dict) -> dict:
        """The scene's entry of ``eBrird_BRIR.json`` (keyed by the head rotation)."""
        index = self.metadata_json("eBrird_BRIR.json", "responses")
        where = f"{self.meta('scenes.json')} [{scene_id}]"
        hr = scene["hr"]
        keys = [str(hr)] + ([str(int(hr))] if isinstance(hr, float) and float(hr).is_integer() else [])
        table = index.get(split)
        if not isinstance(table, dict):
            raise InputError(self.meta("eBrird_BRIR.json"), f"no responses for split {split!r}")
        for key in keys:
            if key in table:
                return table[key]
        raise InputError(where, f"unknown head rotation hr={hr!r} (not in eBrird_BRIR.json [{split}])")

    def _check_scene(self, split: str, scene_id: str, scene: dict) -> None:
        where = f"{self.meta('scenes.json')} [{scene_id}]"
        self._responses(split, scene_id, scene)
        snr = scene["snr"]
        if isinstance(snr, bool) or not isinstance(snr, (int, float)) or not SNR_RANGE_DB[0] <= snr <= SNR_RANGE_DB[1]:
            raise InputError(where, f"snr {snr!r} is not a number of dB within {list(SNR_RANGE_DB)}")
        params = scene["car_noise_parameters"]
        if not isinstance(params, dict):
            raise InputError(where, "car_noise_parameters must be an object")
        require(params, ("speed", "gear", "reference_level_db", "engine_num_harmonics", "rpm", "primary_filter",
                         "secondary_filter", "bump", "dip_low", "dip_high"), f"{where}[car_noise_parameters]")
        speed = params["speed"]
        if isinstance(speed, bool) or not isinstance(speed, (int, float)) or not SPEED_KPH[0] <= speed <= SPEED_KPH[1]:
            raise InputError(where, f"speed {speed!r} km/h is outside {list(SPEED_KPH)}")
        if not isinstance(scene["song_path"], str) or len(Path(scene["song_path"]).parts) < 2:
            raise InputError(where, f"song_path must be '<genre>/<file>', found {scene['song_path']!r}")

    def dataset(self, split: str) -> MusicDataset:
        """The split's songs (mixtures only: CAD1 task 2 has no stems)."""
        songs = {}
        for scene in self._split_scenes(split).values():
            songs[scene["song"]] = Song(scene["song"], Track("mixture", scene["song_path"]), {})
        return MusicDataset(Path(self.cfg.path.music_dir), songs, int(self.cfg.input_sample_rate), split)

    def work_items(self) -> list[WorkItem]:
        split = self.cfg.split
        scenes = self._split_scenes(split)
        others = set(self._scenes()) - set(scenes)
        items = []
        for scene_id, lid in self.scene_listener_pairs(split, scenes, self.meta("scenes.json"),
                                                       self.meta("scenes_listeners.json"), others):
            scene = scenes[scene_id]
            self._check_scene(split, scene_id, scene)
            items.append(WorkItem(f"{scene_id}_{lid}", {"scene": scene_id, "song": scene["song"], "listener": lid,
                                                        "genre": Path(scene["song_path"]).parts[-2],
                                                        "snr": float(scene["snr"])}))
        return items

    def _song(self, item: WorkItem) -> np.ndarray:
        scene = self._scenes()[item.fields["scene"]]
        song = read_song(Path(self.cfg.path.music_dir) / scene["song_path"], int(self.cfg.input_sample_rate))
        seconds = song.shape[0] / int(self.cfg.input_sample_rate)
        if seconds < float(self.cfg.evaluate.min_song_seconds):
            raise InputError(Path(self.cfg.path.music_dir) / scene["song_path"],
                             f"song is {seconds:.2f} s, shorter than evaluate.min_song_seconds={self.cfg.evaluate.min_song_seconds}")
        return song

    def output_name(self, item: WorkItem) -> str:
        f = item.fields
        return f"{self.cfg.split}/{f['listener']}/{f['scene']}_{f['listener']}_{f['song']}.flac"

    def output_path(self, item: WorkItem, out_dir: Path) -> Path:
        return Path(out_dir) / self.output_name(item)

    def expected_outputs(self) -> list[ExpectedAudio]:
        """One stereo 16-bit FLAC per item at 32 kHz, as long as its song."""
        music = Path(self.cfg.path.music_dir)
        out = []
        for it in self.work_items():
            path = music / self._scenes()[it.fields["scene"]]["song_path"]
            if not path.is_file():
                raise InputError(path, "file not found")
            out.append(ExpectedAudio(self.output_name(it), int(self.cfg.remix_sample_rate), 2, sf.info(str(path)).duration))
        return out

    def submission_name(self) -> str:
        """``submission_<team_id>.zip``, as upstream's ``test.py`` names it."""
        return f"submission_{self.cfg.submission.team_id}.zip"

    def car_scene(self) -> CarScene:
        ev = self.cfg.evaluate
        return self.cached("car_scene", lambda: CarScene(
            Path(self.cfg.path.hrtf_dir), int(self.cfg.input_sample_rate), int(self.cfg.nalr.nfir), dict(self.cfg.compressor),
            bool(self.cfg.soft_clip), float(ev.extend_noise), float(ev.max_reference_lufs)))

    # stages -----------------------------------------------------------------------------------
    def enhance(self, item: WorkItem, system, out_dir: Path) -> dict:
        rate = int(self.cfg.input_sample_rate)
        song = self._song(item)
        if chain_kind(system.name) == "separator":
            stems = system.separate(song.astype(np.float32), list(STEMS))
            check_stems(stems, list(STEMS), song.shape, system.name)
            signal = np.asarray(remix(stems), dtype=np.float64)
        else:
            signal = np.asarray(system.enhance(song.astype(np.float32), rate), dtype=np.float64)
            if signal.shape != song.shape:
                raise InputError(f"system {system.name!r}", f"returned shape {signal.shape}, the song {song.shape}")
        if self.cfg.enhance.listener_loudness:
            listener = self.listeners(self.cfg.split)[item.fields["listener"]]
            signal = listener_level(signal, listener, rate, float(self.cfg.enhance.average_level), float(self.cfg.enhance.min_level))
        path = self.output_path(item, out_dir)
        clipped = save_task_output(path, signal, rate, int(self.cfg.remix_sample_rate), bool(self.cfg.soft_clip))
        return {**item.fields, "output": str(path), "clipped_samples": clipped}

    def scene_signals(self, item: WorkItem, enhanced: np.ndarray, rng) -> tuple[np.ndarray, np.ndarray, int]:
        """(processed at the hearing aid's output, reference, clipped samples), both (n, 2) at
        44.1 kHz, for the enhanced loudspeaker signal (n, 2) at 44.1 kHz; `rng` draws the noise."""
        split = self.cfg.split
        scene_id = item.fields["scene"]
        scene = self._scenes()[scene_id]
        responses = self._responses(split, scene_id, scene)
        listener = self.listeners(split)[item.fields["listener"]]
        car = self.car_scene()
        song = self._song(item)
        processed, clipped = car.processed(enhanced, scene, responses, listener, rng, song.shape[0] / car.sample_rate)
        return processed, car.reference(song, responses, processed), clipped

    def evaluate(self, item: WorkItem, out_dir: Path, enhanced: dict) -> dict:
        rate = int(self.cfg.input_sample_rate)
        listener = self.listeners(self.cfg.split)[item.fields["listener"]]
        output = read_audio(self.output_path(item, out_dir), int(self.cfg.remix_sample_rate), channels=2)
        # the fix: the 32 kHz output back at the scene's 44.1 kHz (main hands it on unresampled)
        loudspeakers = resample(output.astype(np.float64), int(self.cfg.remix_sample_rate), rate)
        rng = legacy_rng(item.fields["scene"]) if self.cfg.evaluate.set_random_seed else np.random.RandomState()
        processed, reference, clipped = self.scene_signals(item, loudspeakers, rng)
        ears = haaqi_ears(processed, rate, reference, rate, None, listener, self.cfg, rng,
                          level1=float(self.cfg.evaluate.level1))
        f = item.fields
        return {"scene": f["scene"], "song": f["song"], "genre": f["genre"], "listener": f["listener"],
                "score": float(np.mean([ears["left"], ears["right"]])), "haaqi_left": ears["left"],
                "haaqi_right": ears["right"], "snr": f["snr"], "snr_band": snr_band(f["snr"]),
                "clipped_at_ear": clipped}

    def summary_columns(self) -> list[str]:
        return ["haaqi_left", "haaqi_right"]

    def write_leaderboard(self, exp_task_dir: Path) -> str:
        """The board by genre, then the same systems by SNR band (appended to leaderboard.md)."""
        text = super().write_leaderboard(exp_task_dir)
        board = leaderboard.build(exp_task_dir, self.primary_metric, [], "snr_band", False, {}, self.baseline(),
                                  self.item_columns)
        if board.empty:
            return text
        by_snr = leaderboard.to_markdown(board, self.primary_metric, f"{self.cfg.title}: by SNR band", "snr_band")
        text = f"{text}\n{by_snr}"
        (Path(exp_task_dir) / "leaderboard.md").write_text(text)
        return text

    def item_media(self, item: WorkItem, systems: dict[str, Path]):
        """The report's clips: the song (44.1 kHz), the reference (anechoic, level-matched) and
        each system's output (32 kHz) and what the listener's hearing aid gives in the car."""
        from harness.report.media import Clip, ItemMedia

        rate, out_rate = int(self.cfg.input_sample_rate), int(self.cfg.remix_sample_rate)
        clips = [Clip("song (input)", self._song(item), rate, "input")]
        reference = None
        for name, folder in systems.items():
            path = self.output_path(item, Path(folder) / "enhanced")
            if path.is_file():
                output = read_audio(path, out_rate, channels=2)
                processed, reference, _ = self.scene_signals(
                    item, resample(output.astype(np.float64), out_rate, rate), legacy_rng(item.fields["scene"]))
                clips += [Clip(name, output, out_rate), Clip(f"{name} (in the car, hearing aid)", processed, rate)]
        if reference is not None:
            clips.insert(1, Clip("reference (anechoic)", reference, rate, "reference"))
        f = item.fields
        details = {"scene": f["scene"], "song": f["song"], "genre": f["genre"], "listener": f["listener"],
                   "SNR (dB)": f"{f['snr']:.1f}"}
        return ItemMedia(f"{f['song']}, listener {f['listener']}", details, clips, self.listener_audiogram(f["listener"]))


TASK = Cad1Task2
