import torch

# Synthetic notes decay towards zero; subnormal floats make CPU convolutions many times slower.
torch.set_flush_denormal(True)
