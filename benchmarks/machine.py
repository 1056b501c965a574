"""What the benchmark scripts say about the machine they ran on."""
import platform


def cpu_name():
    """The CPU's model name from /proc/cpuinfo, with its family, model and widest vector instructions
    (cloud machines often say only "AMD EPYC"); the architecture where /proc/cpuinfo cannot be read."""
    fields = {}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if not line.strip():
                    break   # the first processor is enough
                key, _, value = line.partition(":")
                fields[key.strip()] = value.strip()
    except OSError:
        return platform.machine()
    flags = fields.get("flags", "").split()
    vectors = "AVX-512" if "avx512f" in flags else "AVX2" if "avx2" in flags else "no AVX2"
    if "avx512_vnni" in flags:
        vectors += " VNNI"
    name = fields.get("model name", platform.machine())
    return f"{name} (family {fields.get('cpu family', '?')} model {fields.get('model', '?')}, {vectors})"
