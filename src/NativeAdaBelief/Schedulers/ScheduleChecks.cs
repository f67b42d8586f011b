namespace NativeAdaBelief;

/// <summary>The checks of a schedule's arguments that are the optimizer's own rules, asked of the native library.</summary>
internal static class ScheduleChecks
{
    /// <summary>
    /// Refuses a learning rate the optimizer would refuse (the native library's rule), naming the
    /// schedule's argument.
    /// </summary>
    internal static void LearningRate(double value, string paramName)
    {
        try
        {
            new AdaBeliefOptions { LearningRate = value }.Validate();
        }
        catch (ArgumentOutOfRangeException e)
        {
            throw new ArgumentOutOfRangeException(paramName, value, $"{paramName}: {e.Message}");
        }
    }
}
