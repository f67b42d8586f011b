using System.Diagnostics;

namespace NativeAdaBelief.Bindings;

/// <summary>Finds and runs clang.</summary>
internal static class Clang
{
    /// <summary>Names tried on PATH, in order, when neither --clang nor NAB_CLANG is given.</summary>
    private static readonly string[] DefaultNames = { "clang", "clang-14" };

    public static string Locate(string? option)
    {
        if (!string.IsNullOrWhiteSpace(option)) return option;
        string? env = Environment.GetEnvironmentVariable("NAB_CLANG");
        if (!string.IsNullOrWhiteSpace(env)) return env;

        string[] dirs = (Environment.GetEnvironmentVariable("PATH") ?? "")
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries);
        foreach (string name in DefaultNames)
        {
            foreach (string dir in dirs)
            {
                string candidate = Path.Combine(dir, OperatingSystem.IsWindows() ? name + ".exe" : name);
                if (File.Exists(candidate)) return candidate;
            }
        }
        throw new GeneratorException(
            $"clang was not found on PATH (tried {string.Join(", ", DefaultNames)}). Install clang " +
            "(Debian/Ubuntu: apt-get install clang) or name it with --clang PATH or the NAB_CLANG variable.");
    }

    /// <summary>Runs clang and returns its standard output; throws with its standard error on failure.</summary>
    public static string Run(string clang, IEnumerable<string> arguments)
    {
        var start = new ProcessStartInfo(clang)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string a in arguments) start.ArgumentList.Add(a);

        Process process;
        try
        {
            process = Process.Start(start) ?? throw new GeneratorException($"could not start '{clang}'");
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new GeneratorException($"could not start clang '{clang}': {e.Message}");
        }
        using (process)
        {
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            process.WaitForExit();
            string output = stdout.GetAwaiter().GetResult();
            string errors = stderr.GetAwaiter().GetResult();
            if (process.ExitCode != 0)
            {
                throw new GeneratorException(
                    $"'{clang} {string.Join(" ", start.ArgumentList)}' failed with exit code {process.ExitCode}:\n{errors}");
            }
            if (errors.Length > 0) Console.Error.Write(errors); // warnings: pass them on
            return output;
        }
    }
}
