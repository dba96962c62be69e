// Models: weight files, tokenizers, architectures, pooling, LoRA adapters and
// the model registry. Imports Kernels for the math, never networking.
