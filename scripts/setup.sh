#!/usr/bin/env bash
# Set up a fresh machine (Python >= 3.11 with pip, Debian's apt) for the harness and its tests.
# Idempotent: a second run only checks what is there.
set -euo pipefail
cd "$(dirname "$0")/.."

# ffmpeg: museval imports musdb/stempeg, which look for it at import time (and stempeg decodes
# its example stem file, a real-audio test fixture, with it).
# fluidsynth + fluid-soundfont-gm: the demo sets render their scores with FluidSynth and the
# FluidR3 General MIDI soundfont (harness/demo/synth.py).
# asterisk-core-sounds-en-wav + asterisk-core-sounds-en: real spoken prompts and their
# transcripts, the Whisper correctness fixture (tests/test_real_audio.py).
need_apt=()
command -v ffmpeg >/dev/null 2>&1 || need_apt+=(ffmpeg)
ldconfig -p 2>/dev/null | grep -q libsndfile || need_apt+=(libsndfile1)
command -v fluidsynth >/dev/null 2>&1 || need_apt+=(fluidsynth)
[ -f /usr/share/sounds/sf2/FluidR3_GM.sf2 ] || need_apt+=(fluid-soundfont-gm)
[ -f /usr/share/asterisk/sounds/en/hello-world.wav ] || need_apt+=(asterisk-core-sounds-en-wav)
[ -f /usr/share/doc/asterisk-core-sounds-en/core-sounds-en.txt.gz ] || need_apt+=(asterisk-core-sounds-en)
# a single-node SLURM for the cluster tests (scripts/slurm_local.sh starts and stops it)
command -v slurmctld >/dev/null 2>&1 && command -v sbatch >/dev/null 2>&1 && command -v munged >/dev/null 2>&1 \
  || need_apt+=(slurmctld slurmd slurm-client munge)
# headless Chromium and its WebDriver: tests/test_report.py opens the static report in them
# (skipped without them; CADENZA_NO_BROWSER=1 leaves them out)
if [ "${CADENZA_NO_BROWSER:-0}" != "1" ]; then
  command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
  command -v chromedriver >/dev/null 2>&1 || need_apt+=(chromium-driver)
fi
if [ ${#need_apt[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

PIP="python3 -m pip install -q --disable-pip-version-check"
# torch first: 2.13.0 is a local CPU wheel here; any other version pulls CUDA packages.
python3 -c "import torch, sys; sys.exit(torch.__version__.split('+')[0] != '2.13.0')" 2>/dev/null || $PIP torch==2.13.0
$PIP -e ".[test,lyrics,cluster,deploy]"
echo "setup: ok"
