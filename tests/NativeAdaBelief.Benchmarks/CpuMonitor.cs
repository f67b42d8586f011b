using System.Diagnostics;
using System.Globalization;

namespace NativeAdaBelief.Benchmarks;

/// <summary>
/// How busy the rest of the machine was while the suite ran: the CPU time of every process
/// (from /proc/stat) minus this process's own, per second of wall time, in cores. On a shared
/// machine a contended run shows here instead of silently skewing the ratios.
/// </summary>
public sealed class CpuMonitor
{
    private readonly long _busyTicks;
    private readonly long _stealTicks;
    private readonly TimeSpan _ownCpu;
    private readonly Stopwatch _wall = Stopwatch.StartNew();

    private CpuMonitor(long busy, long steal)
    {
        _busyTicks = busy;
        _stealTicks = steal;
        _ownCpu = Process.GetCurrentProcess().TotalProcessorTime;
    }

    /// <summary>Starts measuring, or null where /proc/stat is not available.</summary>
    public static CpuMonitor? Start() => Read() is { } t ? new CpuMonitor(t.Busy, t.Steal) : null;

    /// <summary>Average cores used by other processes, and stolen by the hypervisor, since <see cref="Start"/>.</summary>
    public (double OtherCores, double StolenCores) Stop()
    {
        double wall = _wall.Elapsed.TotalSeconds;
        (long busy, long steal) = Read() ?? (_busyTicks, _stealTicks);
        double own = (Process.GetCurrentProcess().TotalProcessorTime - _ownCpu).TotalSeconds;
        const double ticksPerSecond = 100.0; // USER_HZ
        double all = (busy - _busyTicks) / ticksPerSecond;
        return (Math.Max(0, (all - own) / wall), (steal - _stealTicks) / ticksPerSecond / wall);
    }

    // The aggregate "cpu" line: user nice system idle iowait irq softirq steal ...
    private static (long Busy, long Steal)? Read()
    {
        const string path = "/proc/stat";
        if (!File.Exists(path))
        {
            return null;
        }
        string? line = File.ReadLines(path).FirstOrDefault(l => l.StartsWith("cpu ", StringComparison.Ordinal));
        long[] f = line?.Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1)
            .Select(v => long.Parse(v, CultureInfo.InvariantCulture)).ToArray() ?? [];
        if (f.Length < 8)
        {
            return null;
        }
        return (f[0] + f[1] + f[2] + f[5] + f[6], f[7]);
    }
}
