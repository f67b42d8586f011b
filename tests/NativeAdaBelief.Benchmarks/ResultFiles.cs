using System.Text.Json;

namespace NativeAdaBelief.Benchmarks;

/// <summary>
/// The JSON files the checks outside BenchmarkDotNet leave in the artifacts folder, so that
/// <c>--report-only</c> can rebuild the report from them.
/// </summary>
public static class ResultFiles
{
    /// <summary>Writes <paramref name="results"/> to <paramref name="path"/>, creating its folder.</summary>
    public static void Save<T>(IReadOnlyList<T> results, string path)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        File.WriteAllText(path, JsonSerializer.Serialize(results));
    }

    /// <summary>The results saved at <paramref name="path"/>; none if there is no such file.</summary>
    public static IReadOnlyList<T> Load<T>(string path) =>
        File.Exists(path) ? JsonSerializer.Deserialize<List<T>>(File.ReadAllText(path)) ?? [] : [];
}
