namespace NativeAdaBelief;

internal static class ScheduleChecks
{
    internal static void LearningRate(double value, string paramName)
    {
        if (!(value >= 0) || !double.IsFinite(value))
        {
            throw new ArgumentOutOfRangeException(paramName, value, $"{paramName} must be finite and >= 0.");
        }
    }
}
