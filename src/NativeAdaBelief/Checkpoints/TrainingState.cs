namespace NativeAdaBelief;

/// <summary>
/// The training run's side of a checkpoint beside the optimizer state: the schedules' states,
/// the <see cref="DynamicLossScaler"/>'s scale and good-step count, a global step, and the
/// caller's own string metadata. Saved into the same atomic, checksummed file by
/// <see cref="AdaBeliefOptimizer.SaveCheckpoint(string, TrainingState)"/> and restored, with the
/// optimizer, all or nothing by <see cref="AdaBeliefOptimizer.LoadCheckpoint(string, TrainingState)"/>.
/// </summary>
/// <example>
/// <code>
/// var training = new TrainingState { Schedules = [scheduler, plateau], LossScaler = scaler };
/// training.GlobalStep = step;
/// training.UserMetadata["epoch"] = "3";
/// optimizer.SaveCheckpoint("run.safetensors", training);
/// // later, with the same optimizer layout and newly created schedulers and scaler:
/// optimizer.LoadCheckpoint("run.safetensors", training);   // restores them, GlobalStep and UserMetadata
/// </code>
/// </example>
public sealed class TrainingState
{
    /// <summary>
    /// The schedules (or any <see cref="ISchedulerState"/>), in an order the load must repeat: a
    /// load restores the i-th saved state into the i-th entry, and refuses another count or kind.
    /// </summary>
    public IReadOnlyList<ISchedulerState> Schedules { get; init; } = [];

    /// <summary>The loss scaler, or null for none (a load refuses a file that holds one when this is null, and the reverse).</summary>
    public DynamicLossScaler? LossScaler { get; init; }

    /// <summary>The caller's step counter (≥ 0); a load sets it.</summary>
    public long GlobalStep
    {
        get;
        set
        {
            ArgumentOutOfRangeException.ThrowIfNegative(value, nameof(GlobalStep));
            field = value;
        }
    }

    /// <summary>The caller's own metadata (non-empty keys); a load replaces its contents with the file's.</summary>
    public Dictionary<string, string> UserMetadata { get; } = new(StringComparer.Ordinal);
}
