"""ICASSP 2024 Cadenza challenge: rebalancing music at the hearing-aid microphones, run as the
official baseline runs it (pyclarity 0.9.0 ``recipes/cad_icassp_2024/baseline/enhance.py`` and
``evaluate.py``).

Data: at-mic samples ``<music>-<head position>`` (``at_mic_music.<split>.json``), each a folder
of ``mixture, vocals, drums, bass, other`` WAVs at 44.1 kHz whose loudness was normalised
separately (the stems do not sum to the mixture); scenes (``scenes.<split>.json``: music, head
position, gain id), per-stem dB gains (``gains.json``), listeners per scene and their audiograms.
Items are the (scene, listener) pairs, keyed ``<scene>_<listener>``.

enhance: the sample's mixture -> separator (vocals, drums, bass, other) -> each stem brought to
its own loudness + the scene's gain (LUFS, -inf read as -80) -> summed -> brought to the
loudness of the mixture -> NAL-R per ear (220 taps at 44.1 kHz; the official compressor is off)
-> 32 kHz, hard clipping, 16-bit FLAC ``<scene>_<listener>_remix.flac``.
evaluate: the reference stems through the same gains, remix and loudness matching, NAL-R per
ear; HAAQI per ear at 24 kHz, equalisation 2, level1 = 65 - 20 log10(rms) of the reference
remix's channel (before NAL-R), the HAAQI noise seeded from the scene id; score = mean of the ears.
CSV columns ``scene, song, listener, left_score, right_score, score`` as upstream.

A system that does not separate (``mixture``) passes the mixture as one stem with gain 0 dB:
its output is the mixture through the listener's NAL-R.

Differences from pyclarity 0.9.0 main, following the challenge's rules
(https://cadenzachallenge.org/docs/icassp_2024/ and ``take_part/icassp2024_submission``):
- separation is cached per sample (the harness's separation cache, keyed by the mixture's
  content) and the scene's gains, remix and NAL-R are applied afresh for every item. Main
  means to cache per song but never updates ``previous_song`` in ``enhance.py``, so it
  separates for every pair; updating it alone would reuse the previous scene's gains and apply
  NAL-R twice, since the gains and the hearing aid act on the cached signal;
- the loudness meter of the remix runs at the input rate (main's ``remix_stems`` is given the
  separator's rate; the two agree at 44.1 kHz only);
- the predefined evaluation segments: when ``at_mic_segments.<split>.json`` (sample ->
  ``{start, end}`` in seconds; the harness's file, which the demo writes) exists, each sample
  is cut to that excerpt before separation, and the outputs, scores and submission are the
  excerpt; main has no segment cutting and no submission step. Without the file the samples
  are used whole, as main does;
- ``--stage package`` zips the outputs and checks them (names, 32 kHz, stereo, 16-bit,
  length) as the submission page asks.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from harness.audio import check_stems, read_audio, save_task_output
from harness.data import MusicDataset, Song, Track, WorkItem
from harness.errors import InputError
from harness.hearing_aid import NalR, apply_gains, match_loudness, remix
from harness.metadata import check_gain_set, require
from harness.scoring import haaqi_ears
from harness.systems import VDBO
from harness.task import SceneListenerTask, legacy_rng
from submissions.package import AudioSubmission
from submissions.validate import ExpectedAudio

STEMS = ("vocals", "drums", "bass", "other")


class CadIcassp2024(AudioSubmission, SceneListenerTask):
    task_id = "cad_icassp_2024"
    accepts = ("separator",)
    needs = VDBO
    score_columns = ["scene", "song", "listener", "left_score", "right_score", "score"]
    primary_metric = "score"
    compressor_fittings = False  # audiograms only: NAL-R needs no compressor fitting

    # data -------------------------------------------------------------------------------------
    def make_demo(self, root: Path) -> None:
        from harness.demo.cad_icassp_2024 import make_demo

        make_demo(root, **dict(self.cfg.demo))


    def _segments(self, split: str) -> dict[str, tuple[float, float]]:
        """sample -> (start, end) s from ``at_mic_segments.<split>.json``; {} when there is none."""
        path = self.meta(f"at_mic_segments.{split}.json")
        if not path.is_file():
            return {}
        out = {}
        for name, entry in self.metadata_json(path.name, "segments").items():
            where = f"{path} [{name}]"
            require(entry, ("start", "end"), where)
            start, end = entry["start"], entry["end"]
            if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and np.isfinite(v) for v in (start, end)):
                raise InputError(where, f"start and end must be finite seconds, found {start!r}, {end!r}")
            if start < 0 or end <= start:
                raise InputError(where, f"segment [{start}, {end}] s is empty or starts before the sample")
            out[name] = (float(start), float(end))
        return out

    def _samples(self, split: str) -> dict[str, Song]:
        return self.cached(("samples", split), lambda: self._load_samples(split))

    def _load_samples(self, split: str) -> dict[str, Song]:
        path = self.meta(f"at_mic_music.{split}.json")
        segments = self._segments(split)
        samples = {}
        for name, entry in self.metadata_json(path.name, "at-mic music").items():
            where = f"{path} [{name}]"
            require(entry, ("Path",), where)
            if not isinstance(entry["Path"], str) or not entry["Path"]:
                raise InputError(where, f"'Path' must be a folder name, found {entry['Path']!r}")
            start, end = segments.get(name, (0.0, None))
            duration = None if end is None else end - start
            track = lambda stem: Track(stem, f"{entry['Path']}/{stem}.wav", start, duration)  # noqa: E731
            samples[name] = Song(name, track("mixture"), {s: track(s) for s in STEMS})
        unknown = sorted(set(segments) - set(samples))
        if unknown:
            raise InputError(self.meta(f"at_mic_segments.{split}.json"),
                             f"segments for samples not in {path.name}: {unknown[:3]}")
        return samples

    def dataset(self, split: str) -> MusicDataset:
        """The split's at-mic samples (each a Song with the four stems as its sources), cut to
        their segments where the split has them."""
        return MusicDataset(Path(self.cfg.path.music_dir), self._samples(split), int(self.cfg.input_sample_rate), split)

    def work_items(self) -> list[WorkItem]:
        split = self.cfg.split
        scenes_file = self.meta(f"scenes.{split}.json")
        scenes = self.metadata_json(scenes_file.name, "scenes")
        gains = self.metadata_json("gains.json", "gains")
        samples = self._samples(split)
        items = []
        for scene_id, lid in self.scene_listener_pairs(split, scenes, scenes_file):
            where = f"{scenes_file} [{scene_id}]"
            scene = scenes[scene_id]
            require(scene, ("music", "gain", "head_loudspeaker_positions"), where)
            sample = f"{scene['music']}-{scene['head_loudspeaker_positions']}"
            if sample not in samples:
                raise InputError(where, f"sample {sample!r} is not in at_mic_music.{split}.json")
            if scene["gain"] not in gains:
                raise InputError(where, f"unknown gain set {scene['gain']!r}")
            check_gain_set(gains[scene["gain"]], STEMS, f"{self.meta('gains.json')} [{scene['gain']}]", f"scene {scene_id}")
            items.append(WorkItem(f"{scene_id}_{lid}", {"scene": scene_id, "song": sample, "listener": lid}))
        return items

    def _context(self, item: WorkItem):
        """(sample, listener, gains in dB per stem) of an item."""
        split = self.cfg.split
        scene = self.metadata_json(f"scenes.{split}.json", "scenes")[item.fields["scene"]]
        gains = check_gain_set(self.metadata_json("gains.json", "gains")[scene["gain"]], STEMS,
                               f"{self.meta('gains.json')} [{scene['gain']}]", f"scene {item.fields['scene']}")
        return self._samples(split)[item.fields["song"]], self.listeners(split)[item.fields["listener"]], gains

    def nalr(self) -> NalR:
        return self.cached("nalr", lambda: NalR(int(self.cfg.nalr.nfir), int(self.cfg.input_sample_rate)))

    def output_name(self, item: WorkItem) -> str:
        """The official name (``enhance.py``; the submission page's ``<Scene ID>_<Listener ID>_remix.flac``)."""
        return f"{item.fields['scene']}_{item.fields['listener']}_remix.flac"

    def output_path(self, item: WorkItem, out_dir: Path) -> Path:
        return Path(out_dir) / self.output_name(item)

    def expected_outputs(self) -> list[ExpectedAudio]:
        """One stereo 16-bit FLAC per item at 32 kHz, as long as the (cut) sample plus NAL-R's
        `nfir` samples, which the official chain keeps (full convolution)."""
        import soundfile as sf

        rate, nfir = int(self.cfg.remix_sample_rate), int(self.cfg.nalr.nfir)
        ds = self.dataset(self.cfg.split)
        out = []
        for it in self.work_items():
            mixture = ds.songs[it.fields["song"]].mixture
            seconds = mixture.duration
            if seconds is None:
                path = ds.audio_root / mixture.path
                if not path.is_file():
                    raise InputError(path, "file not found")
                seconds = sf.info(str(path)).duration
            out.append(ExpectedAudio(self.output_name(it), rate, 2, seconds + nfir / int(self.cfg.input_sample_rate)))
        return out

    # stages -----------------------------------------------------------------------------------
    def rebalance(self, stems: dict[str, np.ndarray], mixture: np.ndarray, gains: dict[str, float]) -> np.ndarray:
        """The scene's gains, the remix and the mixture's loudness (before the hearing aid), (n, 2)
        at the input rate; a lone ``mixture`` stem gets 0 dB."""
        rate = int(self.cfg.input_sample_rate)
        return match_loudness(remix(apply_gains(stems, rate, {**gains, "mixture": 0.0})), mixture, rate)

    def enhance(self, item: WorkItem, system, out_dir: Path) -> dict:
        sample, listener, gains = self._context(item)
        ds = self.dataset(self.cfg.split)
        mixture = ds.load_track(sample.mixture, allow_silence=False)
        stems = system.separate(mixture, list(STEMS))
        check_stems(stems, list(STEMS), mixture.shape, system.name)
        signal = self.nalr()(self.rebalance(stems, mixture.astype(np.float64), gains), listener)
        path = self.output_path(item, out_dir)
        clipped = save_task_output(path, signal, ds.sample_rate, int(self.cfg.remix_sample_rate), bool(self.cfg.soft_clip))
        return {**item.fields, "output": str(path), "clipped_samples": clipped}

    def reference(self, item: WorkItem) -> tuple[np.ndarray, np.ndarray]:
        """(reference remix before NAL-R, after it): the reference stems rebalanced as the
        scene asks, (n, 2) and (n + nfir, 2) at 44.1 kHz."""
        sample, listener, gains = self._context(item)
        ds = self.dataset(self.cfg.split)
        # float64, as the official evaluate reads them (read_signal): the loudness meter and the
        # gains then round as there
        stems = {k: v.astype(np.float64) for k, v in ds.load_instrument_stems(sample).items()}
        mixture = self.rebalance(stems, ds.load_track(sample.mixture).astype(np.float64), gains)
        if not np.any(mixture):
            raise InputError(f"scene {item.fields['scene']}", "the reference is silent")
        return mixture, self.nalr()(mixture, listener)

    def evaluate(self, item: WorkItem, out_dir: Path, enhanced: dict) -> dict:
        _, listener, _ = self._context(item)
        rate = int(self.cfg.remix_sample_rate)
        processed = read_audio(self.output_path(item, out_dir), rate, channels=2)
        ref_mixture, reference = self.reference(item)
        rng = legacy_rng(item.fields["scene"]) if self.cfg.evaluate.set_random_seed else None
        ears = haaqi_ears(processed, rate, reference, int(self.cfg.input_sample_rate), ref_mixture, listener, self.cfg, rng)
        return {**item.fields, "left_score": ears["left"], "right_score": ears["right"],
                "score": float(np.mean([ears["left"], ears["right"]]))}

    def summary_columns(self) -> list[str]:
        return ["left_score", "right_score"]

    def item_media(self, item: WorkItem, systems: dict[str, Path]):
        """The report's clips: the sample's mixture at the microphones (44.1 kHz), HAAQI's
        reference (the target balance through the listener's NAL-R) and each system's output
        (32 kHz); the listener's audiogram."""
        from harness.report.media import Clip, ItemMedia

        sample, _, gains = self._context(item)
        rate, out_rate = int(self.cfg.input_sample_rate), int(self.cfg.remix_sample_rate)
        clips = [Clip("mixture (input)", self.dataset(self.cfg.split).load_track(sample.mixture), rate, "input"),
                 Clip("reference (target balance, NAL-R)", self.reference(item)[1], rate, "reference")]
        for name, folder in systems.items():
            path = self.output_path(item, Path(folder) / "enhanced")
            if path.is_file():
                clips.append(Clip(name, read_audio(path, out_rate, channels=2), out_rate))
        f = item.fields
        details = {"scene": f["scene"], "sample": sample.name, "listener": f["listener"],
                   "gains (dB)": ", ".join(f"{k} {v:+.1f}" for k, v in gains.items())}
        return ItemMedia(f"{sample.name}, listener {f['listener']}", details, clips, self.listener_audiogram(f["listener"]))


TASK = CadIcassp2024
