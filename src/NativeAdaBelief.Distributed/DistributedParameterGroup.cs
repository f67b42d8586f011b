namespace NativeAdaBelief.Distributed;

/// <summary>
/// One parameter group of a <see cref="DistributedAdaBeliefOptimizer"/>: its hyper-parameters,
/// which apply to the group's pieces on every rank. Change them identically on every rank (a
/// schedule computed from the step number does).
/// </summary>
public sealed class DistributedParameterGroup
{
    private readonly DistributedAdaBeliefOptimizer _optimizer;

    internal DistributedParameterGroup(DistributedAdaBeliefOptimizer optimizer, int id)
    {
        _optimizer = optimizer;
        Id = id;
    }

    /// <summary>The group's index in <see cref="DistributedAdaBeliefOptimizer.ParamGroups"/> (what <see cref="TensorSpec.Group"/> names).</summary>
    public int Id { get; }

    /// <summary>The learning rate α (one native call to set; no communication).</summary>
    /// <exception cref="ArgumentOutOfRangeException">Set to a value the native library refuses (negative or non-finite).</exception>
    /// <exception cref="ObjectDisposedException">The optimizer was disposed.</exception>
    public double LearningRate
    {
        get => Native.LearningRate;
        set => Native.LearningRate = value;
    }

    /// <summary>All of the group's hyper-parameters (see <see cref="ParameterGroup.Options"/>).</summary>
    /// <exception cref="ArgumentOutOfRangeException">An option is invalid (nothing is changed).</exception>
    /// <exception cref="ObjectDisposedException">The optimizer was disposed.</exception>
    public AdaBeliefOptions Options
    {
        get => Native.Options;
        set => Native.Options = value;
    }

    private ParameterGroup Native
    {
        get
        {
            _optimizer.ThrowIfDisposed();
            return _optimizer.Local.ParamGroups[Id];
        }
    }
}
