"""Pure scoring functions on arrays: HAAQI, SDR, Whisper correctness, STOI, prediction metrics."""
