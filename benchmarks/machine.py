"""What the benchmark scripts say about the machine they ran on."""
import platform


def cpu_name():
    """The CPU's model name from /proc/cpuinfo (the architecture where that cannot be read)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.machine()
