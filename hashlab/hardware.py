"""Where numbers were computed: one line naming the CPU, cores, library versions and GPU, printed beside timings."""

from __future__ import annotations

import os
import platform

__all__ = ["hardware_info"]


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def hardware_info() -> str:
    """One line describing where numbers were computed: CPU model, cores, torch version, CUDA device if any."""
    import matplotlib
    import torch

    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else "?"
    parts = [
        f"CPU: {_cpu_model()}",
        f"{os.cpu_count()} logical cores (usable: {usable})",
        f"Python {platform.python_version()}",
        f"torch {torch.__version__}",
        f"matplotlib {matplotlib.__version__}",
    ]
    if torch.cuda.is_available():
        parts.append(f"CUDA device: {torch.cuda.get_device_name(0)} (CUDA {torch.version.cuda})")
    else:
        parts.append("CUDA: none (CPU only)")
    return "; ".join(parts)
