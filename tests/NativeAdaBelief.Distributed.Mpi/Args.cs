using System.Globalization;

namespace NativeAdaBelief.Distributed.Mpi;

/// <summary>A scenario's command line: <c>scenario --name value ... [--flag]</c>.</summary>
internal sealed class Args
{
    private readonly Dictionary<string, string> _values = new(StringComparer.Ordinal);

    internal Args(string[] args)
    {
        Scenario = args.Length > 0 ? args[0] : "";
        for (int i = 1; i < args.Length; i++)
        {
            if (!args[i].StartsWith("--", StringComparison.Ordinal))
            {
                throw new ArgumentException($"'{args[i]}' is not an option (--name value).");
            }
            bool flag = i + 1 >= args.Length || args[i + 1].StartsWith("--", StringComparison.Ordinal);
            _values[args[i][2..]] = flag ? "true" : args[++i];
        }
    }

    internal string Scenario { get; }

    internal string Text(string name, string fallback) => _values.GetValueOrDefault(name, fallback);

    internal string Required(string name) =>
        _values.TryGetValue(name, out string? value) ? value : throw new ArgumentException($"--{name} is required.");

    internal int Int(string name, int fallback) =>
        _values.TryGetValue(name, out string? value) ? int.Parse(value, CultureInfo.InvariantCulture) : fallback;

    internal double Double(string name, double fallback) =>
        _values.TryGetValue(name, out string? value) ? double.Parse(value, CultureInfo.InvariantCulture) : fallback;

    internal bool Flag(string name) => _values.ContainsKey(name);

    internal T Enum<T>(string name, T fallback) where T : struct, System.Enum =>
        _values.TryGetValue(name, out string? value) ? System.Enum.Parse<T>(value, ignoreCase: true) : fallback;
}
