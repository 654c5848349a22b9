import torch

# Synthetic notes decay towards zero; subnormal floats make CPU convolutions many times slower.
torch.set_flush_denormal(True)
# The test models are tiny: one thread is as fast, and immune to a busy machine's oversubscription.
torch.set_num_threads(1)
