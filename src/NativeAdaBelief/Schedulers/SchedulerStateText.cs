using System.Globalization;

namespace NativeAdaBelief;

/// <summary>Reading and writing the values of an <see cref="ISchedulerState"/> dictionary: invariant culture, doubles round-trip.</summary>
internal static class SchedulerStateText
{
    internal static string Format(double value) => value.ToString("R", CultureInfo.InvariantCulture);

    internal static string Format(long value) => value.ToString(CultureInfo.InvariantCulture);

    internal static string Format(IReadOnlyList<double> values) => string.Join(",", values.Select(Format));

    /// <summary>Refuses a state of another kind.</summary>
    internal static void CheckKind(IReadOnlyDictionary<string, string> state, string kind)
    {
        ArgumentNullException.ThrowIfNull(state);
        string found = Get(state, "kind", kind);
        if (found != kind)
        {
            throw new InvalidDataException($"{kind}: the saved state is of '{found}', not '{kind}'.");
        }
    }

    internal static string Get(IReadOnlyDictionary<string, string> state, string key, string kind) =>
        state.TryGetValue(key, out string? value)
            ? value
            : throw new InvalidDataException($"{kind}: the saved state has no '{key}'.");

    internal static long Long(IReadOnlyDictionary<string, string> state, string key, string kind, long minimum)
    {
        string text = Get(state, key, kind);
        if (!long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long value) || value < minimum)
        {
            throw new InvalidDataException($"{kind}: the saved '{key}' = '{text}' is not an integer ≥ {minimum}.");
        }
        return value;
    }

    internal static double Double(IReadOnlyDictionary<string, string> state, string key, string kind)
    {
        string text = Get(state, key, kind);
        if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double value))
        {
            throw new InvalidDataException($"{kind}: the saved '{key}' = '{text}' is not a number.");
        }
        return value;
    }

    /// <summary>A list of <paramref name="count"/> finite numbers ≥ 0 (learning rates).</summary>
    internal static double[] Rates(IReadOnlyDictionary<string, string> state, string key, string kind, int count)
    {
        string text = Get(state, key, kind);
        string[] parts = text.Length == 0 ? [] : text.Split(',');
        if (parts.Length != count)
        {
            throw new InvalidDataException($"{kind}: the saved '{key}' holds {parts.Length} values, but the optimizer has {count} groups.");
        }
        var values = new double[count];
        for (int i = 0; i < count; i++)
        {
            if (!double.TryParse(parts[i], NumberStyles.Float, CultureInfo.InvariantCulture, out values[i]) || !(values[i] >= 0) || !double.IsFinite(values[i]))
            {
                throw new InvalidDataException($"{kind}: the saved '{key}'[{i}] = '{parts[i]}' is not a finite number ≥ 0.");
            }
        }
        return values;
    }
}
