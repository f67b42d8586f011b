#!/usr/bin/env python3
"""PyTorch's fused Adam on the GPU, at the sizes native_adabelief_cuda_benchmark measures.

Adam moves the same 28 bytes per fp32 parameter as our step (read p, g, m, v; write p, m, v),
so bytes/second compare directly. Run on the GPU machine right after the native benchmark:

    python3 tools/gpu/torch_fused_adam_benchmark.py [iterations]
"""
import sys

import torch


def measure(count: int, iterations: int) -> None:
    parameter = torch.zeros(count, device="cuda", requires_grad=True)
    parameter.grad = torch.full_like(parameter, 1e-3)
    optimizer = torch.optim.Adam([parameter], lr=1e-3, fused=True)
    for _ in range(3):
        optimizer.step()
    start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(iterations):
        optimizer.step()
    stop.record()
    torch.cuda.synchronize()
    milliseconds = start.elapsed_time(stop) / iterations
    gigabytes_per_second = 28.0 * count / milliseconds / 1e6
    print(f"params={count} torch_fused_adam_us={milliseconds * 1e3:.1f} torch_fused_adam_GBps={gigabytes_per_second:.1f}")


def main() -> int:
    if not torch.cuda.is_available():
        print("torch_fused_adam_benchmark: no CUDA device visible; nothing measured", file=sys.stderr)
        return 1
    iterations = int(sys.argv[1]) if len(sys.argv) > 1 else 50
    print(f"device: {torch.cuda.get_device_name(0)}, torch {torch.__version__}")
    for count in (1 << 20, 10_000_000, 1 << 26, 200_000_000):
        measure(count, iterations)
    return 0


if __name__ == "__main__":
    sys.exit(main())
