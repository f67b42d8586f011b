namespace NativeAdaBelief;

/// <summary>Argument checks of the schedules: every error names the schedule and the argument.</summary>
internal static class ScheduleChecks
{
    internal static ArgumentOutOfRangeException OutOfRange(string schedule, string argument, object value, string rule) =>
        new(argument, value, $"{schedule}: {argument} = {value} is invalid: {rule}.");

    /// <summary>
    /// Refuses a learning rate the optimizer would refuse (the native library's rule, asked of it),
    /// naming the schedule and its argument.
    /// </summary>
    internal static void LearningRate(string schedule, string argument, double value)
    {
        try
        {
            new AdaBeliefOptions { LearningRate = value }.Validate();
        }
        catch (ArgumentOutOfRangeException e)
        {
            throw new ArgumentOutOfRangeException(argument, value, $"{schedule}: {argument} = {value} is invalid: {e.Message}");
        }
    }

    /// <summary>Refuses a β₁ the optimizer would refuse (the native library's rule), naming the schedule and its argument.</summary>
    internal static void Beta1(string schedule, string argument, double value)
    {
        try
        {
            new AdaBeliefOptions { Beta1 = value }.Validate();
        }
        catch (ArgumentOutOfRangeException e)
        {
            throw new ArgumentOutOfRangeException(argument, value, $"{schedule}: {argument} = {value} is invalid: {e.Message}");
        }
    }

    internal static void Positive(string schedule, string argument, long value)
    {
        if (value <= 0) throw OutOfRange(schedule, argument, value, "must be ≥ 1");
    }

    internal static void NotNegative(string schedule, string argument, long value)
    {
        if (value < 0) throw OutOfRange(schedule, argument, value, "must be ≥ 0");
    }

    /// <summary>A finite factor in [<paramref name="low"/>, <paramref name="high"/>].</summary>
    internal static void Factor(string schedule, string argument, double value, double low, double high)
    {
        if (!(value >= low && value <= high)) throw OutOfRange(schedule, argument, value, $"must be in [{low}, {high}]");
    }

    /// <summary>A finite number.</summary>
    internal static void Finite(string schedule, string argument, double value)
    {
        if (!double.IsFinite(value)) throw OutOfRange(schedule, argument, value, "must be finite");
    }

    /// <summary>One value for every group, or one per group: refuses an empty list and checks each value.</summary>
    internal static double[] PerGroup(string schedule, string argument, IReadOnlyList<double> values, Action<string, string, double> check)
    {
        ArgumentNullException.ThrowIfNull(values, argument);
        if (values.Count == 0) throw new ArgumentException($"{schedule}: {argument} is empty: give one value for every group, or one per group.", argument);
        for (int i = 0; i < values.Count; i++)
        {
            check(schedule, $"{argument}[{i}]", values[i]);
        }
        return [.. values];
    }

    /// <summary>Refuses a per-group list whose length is neither 1 nor the group count.</summary>
    internal static void GroupCount(string schedule, string argument, int listed, int groups)
    {
        if (listed != 1 && listed != groups)
        {
            throw new ArgumentException($"{schedule}: {argument} has {listed} values, but the optimizer has {groups} groups (give one value, or one per group).", argument);
        }
    }

    internal static double Of(double[] values, int group) => values.Length == 1 ? values[0] : values[group];

    internal static void Epoch(string schedule, long epoch)
    {
        if (epoch < 0) throw OutOfRange(schedule, "epoch", epoch, "must be ≥ 0");
    }
}
