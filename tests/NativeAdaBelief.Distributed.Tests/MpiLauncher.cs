using System.Diagnostics;
using System.Text;

namespace NativeAdaBelief.Distributed.Tests;

/// <summary>
/// An MPI implementation's launcher on this machine (MPICH's Hydra <c>mpiexec.mpich</c>, Open
/// MPI's <c>mpirun.openmpi</c>) and how the tests start the scenario program under it.
/// </summary>
internal sealed class MpiLauncher
{
    /// <summary>How long one launch may run before the test calls it hung, kills it and fails.</summary>
    private static readonly TimeSpan HangLimit = TimeSpan.FromMinutes(5);

    private readonly string _path;
    private readonly string[] _options;

    private MpiLauncher(string name, string path, string[] options)
    {
        Name = name;
        _path = path;
        _options = options;
    }

    /// <summary>"MPICH" or "Open MPI".</summary>
    internal string Name { get; }

    /// <summary>MPICH's launcher, or null where MPICH is not installed.</summary>
    internal static MpiLauncher? Mpich { get; } = Find("mpiexec.mpich") is { } path ? new MpiLauncher("MPICH", path, []) : null;

    /// <summary>Open MPI's launcher (allowed to run as root and to put more ranks than cores on the machine), or null.</summary>
    internal static MpiLauncher? OpenMpi { get; } =
        Find("mpirun.openmpi") is { } path ? new MpiLauncher("Open MPI", path, ["--allow-run-as-root", "--oversubscribe"]) : null;

    /// <summary>The scenario program, built next to these tests.</summary>
    internal static string ScenarioProgram { get; } = Path.Combine(AppContext.BaseDirectory, "NativeAdaBelief.Distributed.Mpi.dll");

    /// <summary>Runs <c>launcher [options] -n ranks dotnet program args</c> and returns its exit code and output.</summary>
    internal LaunchResult Run(int ranks, string[] launcherOptions, params string[] args) =>
        Start(_path, [.. _options, .. launcherOptions, "-n", ranks.ToString(System.Globalization.CultureInfo.InvariantCulture), "dotnet",
            ScenarioProgram, .. args]);

    /// <summary>Runs the scenario program in this process's way: one process, no MPI (<c>--no-mpi</c>).</summary>
    internal static LaunchResult RunAlone(params string[] args) => Start("dotnet", [ScenarioProgram, .. args, "--no-mpi"]);

    private static LaunchResult Start(string program, string[] arguments)
    {
        var start = new ProcessStartInfo(program)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }
        var output = new StringBuilder();
        using var process = new Process { StartInfo = start };
        process.OutputDataReceived += (_, e) => Append(output, e.Data);
        process.ErrorDataReceived += (_, e) => Append(output, e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        if (!process.WaitForExit(HangLimit))
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
            return new LaunchResult(-1, $"HUNG: killed after {HangLimit}: {program} {string.Join(' ', arguments)}\n{output}");
        }
        process.WaitForExit(); // flushes the asynchronous readers
        lock (output)
        {
            return new LaunchResult(process.ExitCode, $"$ {program} {string.Join(' ', arguments)}\n{output}");
        }
    }

    private static void Append(StringBuilder output, string? line)
    {
        if (line is null)
        {
            return;
        }
        lock (output)
        {
            output.AppendLine(line);
        }
    }

    private static string? Find(string program) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator)
            .Select(directory => Path.Combine(directory, program))
            .FirstOrDefault(File.Exists);
}
