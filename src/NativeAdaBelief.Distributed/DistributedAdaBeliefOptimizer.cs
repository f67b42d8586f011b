using System.Collections.ObjectModel;
using System.Runtime.InteropServices;

namespace NativeAdaBelief.Distributed;

/// <summary>
/// Data-parallel AdaBelief with sharded optimizer state (ZeRO stage 1): every rank trains the
/// same model on its own part of each batch, and each rank keeps the optimizer state (m, s, s_max
/// and float32 master copies) of one contiguous shard of the flat parameter space only, about
/// 1/N of it.
/// </summary>
/// <remarks>
/// <para>One <see cref="Step"/>: the ranks' gradients are summed with a reduce-scatter (each
/// rank receives the sum of its shard, added in rank order); each rank runs the native fused
/// step on its shard, with the sum multiplied by 1/N (the average) inside the step; one
/// all-gather of the updated parameters (in place, in the parameters' own element types) gives
/// every rank the whole model. With <see cref="StepOptions"/> that clip or skip, each rank's
/// per-chunk gradient statistics travel in one small all-gather, and every rank decides from all
/// of them in the same order: the same skip, the same clipping factor, the same norm. The
/// result is bit-identical to one process that steps the ranks' gradients summed in rank order
/// with the inverse scale 1/N (for 2 ranks also to one stepping (g₀ + g₁) · 0.5).</para>
/// <para>Each shard's part of a tensor is a tensor of its own in the rank's native optimizer,
/// with the tensor's step count, so bias corrections and rectification are exactly the
/// single-process ones.</para>
/// <para>Every rank must construct the optimizer, and call every member that communicates
/// (<see cref="Step"/>, <see cref="SaveCheckpoint"/>, <see cref="LoadCheckpoint"/>), in the same
/// order; set the same learning rates and step options on every rank. Not thread-safe.</para>
/// </remarks>
public sealed unsafe class DistributedAdaBeliefOptimizer : IDisposable, IScheduledOptimizer
{
    private readonly Communicator _communicator;
    private readonly ParameterSpace _space;
    private readonly ShardLayout _layout;
    private readonly AdaBeliefOptimizer _local;
    private readonly NativeBuffer<float> _shardGradients;
    private readonly GradientReduction _reduction;
    private readonly double[] _localSums, _allSums;
    private readonly long[] _localCounts, _allCounts;
    private readonly byte[] _localRecords, _allRecords;
    private readonly int[] _recordCounts, _recordDisplacements;
    private StepOptions _stepOptions = new();
    private bool _needsGradientPass;
    private bool _disposed;

    /// <summary>
    /// Creates this rank's part of the optimizer: checks that every rank describes the same model
    /// (refused on every rank with the same message otherwise), cuts the parameter space into
    /// shards, starts every rank from rank 0's parameters, and creates the native optimizer of
    /// this rank's shard (with master copies initialised from the parameters). Every rank calls it.
    /// </summary>
    /// <param name="communicator">The ranks; used, not owned.</param>
    /// <param name="space">The model's tensors; used, not owned (dispose it after the optimizer).</param>
    /// <param name="groups">The parameter groups' hyper-parameters; <see cref="TensorSpec.Group"/> indexes them.</param>
    /// <param name="config">Threads and SIMD level of this rank's native step; null for the defaults. CPU only.</param>
    /// <exception cref="ArgumentException">An argument is invalid on some rank, or the ranks describe different models
    /// (thrown on every rank, with the same message naming the rank and the difference).</exception>
    /// <exception cref="InvalidOperationException">A rank could not create its shard (e.g. out of memory); thrown on every rank.</exception>
    /// <exception cref="NotSupportedException">A shard exceeds MPI's int counts (use more ranks).</exception>
    /// <exception cref="CommunicatorException">MPI failed or another rank did not arrive within the communicator's timeout.</exception>
    /// <exception cref="ObjectDisposedException">The communicator or the space was disposed.</exception>
    public DistributedAdaBeliefOptimizer(Communicator communicator, ParameterSpace space, IReadOnlyList<AdaBeliefOptions> groups,
        OptimizerConfig? config = null)
    {
        ArgumentNullException.ThrowIfNull(communicator);
        ArgumentNullException.ThrowIfNull(space);
        ArgumentNullException.ThrowIfNull(groups);
        ObjectDisposedException.ThrowIf(communicator.IsDisposed, communicator);
        ObjectDisposedException.ThrowIf(space.IsDisposed, space);
        config ??= new OptimizerConfig();
        _communicator = communicator;
        _space = space;

        string? refusal = null;
        try
        {
            CheckArguments(space, groups, config);
        }
        catch (Exception e) when (e is ArgumentException or NotSupportedException)
        {
            refusal = e.Message;
        }
        RankAgreement.AgreeOnModel(communicator, refusal, Describe(space, groups));

        space.Acquire();
        try
        {
            _layout = ShardLayout.Create(space, StateBytesPerElement(space, groups), communicator.Size);
            BroadcastParameters();
            int rank = communicator.Rank;
            _shardGradients = new NativeBuffer<float>(Math.Max(1, _layout.GradientCounts[rank]));
            _reduction = new GradientReduction(communicator, _layout);
            Exception? failure = null;
            AdaBeliefOptimizer? local = null;
            try
            {
                local = CreateLocal(groups, config);
            }
            catch (Exception e) when (e is ArgumentException or OutOfMemoryException or NotSupportedException or NativeAdaBeliefException)
            {
                failure = e;
            }
            _local = local!;
            RankAgreement.Agree(communicator, failure, (message, inner) =>
                new InvalidOperationException($"Creating the shards' optimizers failed on {message}", inner));
            _local.StepOptions = Averaged(_stepOptions);

            int chunks = _layout.ChunkCounts[rank], allChunks = _layout.ChunkCounts.Sum();
            _localSums = new double[chunks];
            _localCounts = new long[chunks];
            _allSums = new double[allChunks];
            _allCounts = new long[allChunks];
            _localRecords = new byte[RecordBytes * chunks];
            _allRecords = new byte[RecordBytes * allChunks];
            _recordCounts = [.. _layout.ChunkCounts.Select(c => RecordBytes * c)];
            _recordDisplacements = new int[communicator.Size];
            for (int r = 1; r < communicator.Size; r++)
            {
                _recordDisplacements[r] = _recordDisplacements[r - 1] + _recordCounts[r - 1];
            }
            var wrappers = new DistributedParameterGroup[groups.Count];
            for (int g = 0; g < wrappers.Length; g++)
            {
                wrappers[g] = new DistributedParameterGroup(this, g);
            }
            ParamGroups = new ReadOnlyCollection<DistributedParameterGroup>(wrappers);
            OwnedPieces = new ReadOnlyCollection<ShardPiece>(_layout.Pieces[rank]);
        }
        catch
        {
            _local?.Dispose();
            _reduction?.Dispose();
            _shardGradients?.Dispose();
            space.Release();
            throw;
        }
    }

    /// <summary>Bytes of one chunk's record in the statistics exchange: its sum of squares and its non-finite count.</summary>
    private const int RecordBytes = sizeof(double) + sizeof(long);

    /// <summary>The ranks this optimizer runs on.</summary>
    public Communicator Communicator => _communicator;

    /// <summary>The model's tensors.</summary>
    public ParameterSpace Space => _space;

    /// <summary>The parameter groups (their <see cref="DistributedParameterGroup.Id"/> is their index).</summary>
    public IReadOnlyList<DistributedParameterGroup> ParamGroups { get; }

    /// <inheritdoc />
    /// <remarks>A scheduler over a distributed optimizer runs on every rank, with the same steps (and, for <see cref="ReduceLROnPlateau"/>, the same metric).</remarks>
    int IScheduledOptimizer.GroupCount => ParamGroups.Count;

    /// <inheritdoc />
    double IScheduledOptimizer.GetLearningRate(int group) => ParamGroups[group].LearningRate;

    /// <inheritdoc />
    void IScheduledOptimizer.SetLearningRate(int group, double learningRate) => ParamGroups[group].LearningRate = learningRate;

    /// <inheritdoc />
    void IScheduledOptimizer.SetBeta1(int group, double beta1)
    {
        DistributedParameterGroup g = ParamGroups[group];
        AdaBeliefOptions options = g.Options;
        if (options.Beta1 != beta1)
        {
            g.Options = options with { Beta1 = beta1 };
        }
    }

    /// <summary>The parts of tensors whose optimizer state this rank keeps, in tensor order (possibly none).</summary>
    public IReadOnlyList<ShardPiece> OwnedPieces { get; }

    /// <summary>
    /// The optimizer-state bytes this rank keeps for its shard: 8 per element (m, s), 4 more with
    /// a master copy and 4 more with s_max. About 1/N of one process's, within one chunk's
    /// (<see cref="AdaBeliefOptimizer.GradientChunkElements"/> elements) worth.
    /// </summary>
    /// <exception cref="ObjectDisposedException">The optimizer was disposed.</exception>
    public long OwnedStateBytes
    {
        get
        {
            ThrowIfDisposed();
            long bytes = 0;
            foreach (OptimizerTensor piece in _local.Tensors)
            {
                bytes += piece.Length * (8 + (piece.HasMasterParameters ? 4 : 0) + (piece.HasMaxSecondMoment ? 4 : 0));
            }
            return bytes;
        }
    }

    /// <summary>True once <see cref="Dispose"/> has been called.</summary>
    public bool IsDisposed => _disposed;

    /// <summary>
    /// What every later <see cref="Step"/> does to the gradients, as
    /// <see cref="AdaBeliefOptimizer.StepOptions"/>, over the whole model's averaged gradients:
    /// <see cref="NativeAdaBelief.StepOptions.InverseGradientScale"/> applies to the average,
    /// clipping and the skip look at every rank's gradients. Set the same options on every rank.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">Set to invalid options (also when the inverse scale divided by the rank count leaves float32's range); nothing changes.</exception>
    /// <exception cref="ObjectDisposedException">The optimizer was disposed.</exception>
    public StepOptions StepOptions
    {
        get => _stepOptions;
        set
        {
            ArgumentNullException.ThrowIfNull(value, nameof(StepOptions));
            ThrowIfDisposed();
            value.Validate();
            _local.StepOptions = Averaged(value);
            _stepOptions = value;
            // The header's rule for when a step makes the gradient pass (nab_step_options).
            _needsGradientPass = value.SkipNonFinite || value.MaxGradientNorm > 0 || value.ComputeGradientNorm;
        }
    }

    /// <summary>
    /// One data-parallel step; every rank calls it after writing its gradients into the
    /// <see cref="Space"/>. Sums the gradients across ranks (reduce-scatter), steps this rank's
    /// shard with their average, and gathers every rank's updated parameters (all-gather), so
    /// that every rank holds the same, updated model. A step skipped by
    /// <see cref="NativeAdaBelief.StepOptions.SkipNonFinite"/> is skipped on every rank and
    /// gathers nothing. The gradients in the space are left as they were (call
    /// <see cref="ZeroGrad"/> or overwrite them). Allocates nothing on the managed heap.
    /// </summary>
    /// <exception cref="CommunicatorException">MPI failed, or another rank did not arrive within the communicator's timeout.</exception>
    /// <exception cref="ArgumentException">A tensor's step count cannot grow (as <see cref="AdaBeliefOptimizer.Step"/>).</exception>
    /// <exception cref="ObjectDisposedException">The optimizer was disposed.</exception>
    public void Step()
    {
        ThrowIfDisposed();
        _reduction.Sum((float*)_space.GradientBase, (float*)_shardGradients.Address);
        bool skipped = false;
        if (_needsGradientPass)
        {
            _local.ComputeGradientChunkStatistics(_localSums, _localCounts);
            int chunks = _localSums.Length;
            MemoryMarshal.AsBytes(_localSums.AsSpan()).CopyTo(_localRecords);
            MemoryMarshal.AsBytes(_localCounts.AsSpan()).CopyTo(_localRecords.AsSpan(sizeof(double) * chunks));
            fixed (byte* send = _localRecords)
            fixed (byte* receive = _allRecords)
            {
                _communicator.AllGather(CollectiveElement.Byte, send, _localRecords.Length, receive, _recordCounts, _recordDisplacements);
            }
            // Rank r's records: its sums, then its counts; placed in rank order, the model's chunk order.
            int at = 0;
            for (int r = 0; r < _layout.Ranks; r++)
            {
                int count = _layout.ChunkCounts[r];
                ReadOnlySpan<byte> records = _allRecords.AsSpan(_recordDisplacements[r], _recordCounts[r]);
                MemoryMarshal.Cast<byte, double>(records[..(sizeof(double) * count)]).CopyTo(_allSums.AsSpan(at));
                MemoryMarshal.Cast<byte, long>(records[(sizeof(double) * count)..]).CopyTo(_allCounts.AsSpan(at));
                at += count;
            }
            _local.StepWithGradientStatistics(_allSums, _allCounts);
            skipped = _local.GetLastStepReport().Skipped;
        }
        else
        {
            _local.Step();
        }
        if (!skipped)
        {
            _communicator.AllGatherInPlace(CollectiveElement.Block, (void*)_space.ParameterBase, _layout.ParameterBlockCounts,
                _layout.ParameterBlockDisplacements);
        }
    }

    /// <summary>
    /// What the last <see cref="Step"/> did, the same on every rank when it made the gradient pass:
    /// skipped or not, the non-finite elements of the whole model, the norm of the whole model's
    /// averaged gradients. <see cref="StepReport.GradientScale"/> is the factor the summed
    /// gradients were multiplied by: the inverse scale and clipping coefficient times 1/N.
    /// <see cref="StepReport.StepCalls"/> counts this rank's steps.
    /// </summary>
    /// <returns>The report.</returns>
    /// <exception cref="ObjectDisposedException">The optimizer was disposed.</exception>
    public StepReport GetLastStepReport()
    {
        ThrowIfDisposed();
        return _local.GetLastStepReport();
    }

    /// <summary>Sets this rank's gradients in the <see cref="Space"/> to zero.</summary>
    /// <exception cref="ObjectDisposedException">The optimizer or the space was disposed.</exception>
    public void ZeroGrad()
    {
        ThrowIfDisposed();
        _space.ZeroGradients();
    }

    /// <summary>
    /// Saves the optimizer state of every rank; every rank calls it. <see cref="DistributedCheckpointKind.PerRank"/>:
    /// <paramref name="path"/> is a folder (created if needed) that every rank can write (a shared
    /// file system), each rank writes its shard's native checkpoint, and rank 0 then writes
    /// <c>distributed.json</c>, which makes the set complete (a crash before it leaves the previous
    /// set in force). <see cref="DistributedCheckpointKind.Gathered"/>: rank 0 gathers every shard
    /// and writes <paramref name="path"/> as one ordinary NativeAdaBelief checkpoint of the whole
    /// model, which <see cref="AdaBeliefOptimizer.LoadCheckpoint(string)"/> also reads (for tensors
    /// registered with float32 gradients); this needs the whole state's memory on rank 0 while it saves.
    /// Either kind resumes on any number of ranks (<see cref="LoadCheckpoint"/>). The parameters are
    /// not in it: save them with the model (every rank holds all of them).
    /// </summary>
    /// <param name="path">The folder (per rank) or the file (gathered).</param>
    /// <param name="kind">How to save.</param>
    /// <exception cref="IOException">Some rank could not write (thrown on every rank, with the same message).</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="kind"/> is not defined.</exception>
    /// <exception cref="CommunicatorException">MPI failed, or another rank did not arrive within the communicator's timeout.</exception>
    /// <exception cref="ObjectDisposedException">The optimizer was disposed.</exception>
    public void SaveCheckpoint(string path, DistributedCheckpointKind kind)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ThrowIfDisposed();
        switch (kind)
        {
            case DistributedCheckpointKind.PerRank:
                ShardedCheckpoint.Save(this, path);
                break;
            case DistributedCheckpointKind.Gathered:
                GatheredCheckpoint.Save(this, path);
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(kind), kind, $"kind = {kind} is not a DistributedCheckpointKind.");
        }
    }

    /// <summary>
    /// Restores a checkpoint saved by <see cref="SaveCheckpoint"/> on any number of ranks (a folder:
    /// per rank; a file: gathered, or any ordinary checkpoint of the same model), re-sharding it for
    /// this run's ranks; every rank calls it. Everything is read and checked on every rank before
    /// anything changes: on any problem every rank throws the same <see cref="InvalidDataException"/>
    /// and no rank's state changed. The group options (learning rates included) and step counts
    /// come from the checkpoint.
    /// </summary>
    /// <param name="path">A folder with <c>distributed.json</c>, or a checkpoint file.</param>
    /// <exception cref="InvalidDataException">The checkpoint is missing, malformed, corrupt or of another model (on every rank).</exception>
    /// <exception cref="CommunicatorException">MPI failed, or another rank did not arrive within the communicator's timeout.</exception>
    /// <exception cref="ObjectDisposedException">The optimizer was disposed.</exception>
    public void LoadCheckpoint(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ThrowIfDisposed();
        ShardStaging staging = Directory.Exists(path) ? ShardedCheckpoint.Load(this, path) : GatheredCheckpoint.Load(this, path);
        staging.Commit(this);
    }

    /// <summary>Destroys this rank's native optimizer and lets go of the space (not the communicator). Idempotent; no communication.</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }
        _disposed = true;
        _local.Dispose();
        _reduction.Dispose();
        _shardGradients.Dispose();
        _space.Release();
    }

    // ---- For the groups and the checkpoints. ----

    /// <summary>The gradients' reduce-scatter.</summary>
    internal GradientReduction Reduction => _reduction;

    /// <summary>The shard's sum of the gradients (the native pieces' gradients).</summary>
    internal NativeBuffer<float> ShardGradients => _shardGradients;

    /// <summary>This rank's native optimizer: one tensor per owned piece, in <see cref="OwnedPieces"/> order.</summary>
    internal AdaBeliefOptimizer Local => _local;

    /// <summary>The shards of every rank.</summary>
    internal ShardLayout Layout => _layout;

    /// <summary>Throws <see cref="ObjectDisposedException"/> after <see cref="Dispose"/>.</summary>
    internal void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(_disposed, this);

    // ---- Construction. ----

    /// <summary>The options the native step gets: the user's, with the inverse scale divided by the rank count (the average).</summary>
    private StepOptions Averaged(StepOptions options) =>
        options with { InverseGradientScale = options.InverseGradientScale / _communicator.Size };

    private static void CheckArguments(ParameterSpace space, IReadOnlyList<AdaBeliefOptions> groups, OptimizerConfig config)
    {
        if (groups.Count == 0)
        {
            throw new ArgumentException("At least one parameter group is needed.", nameof(groups));
        }
        for (int g = 0; g < groups.Count; g++)
        {
            (groups[g] ?? throw new ArgumentException($"Group {g}'s options are null.", nameof(groups))).Validate();
        }
        config.Validate();
        if (config.Device != DeviceType.Cpu)
        {
            throw new NotSupportedException(
                $"config.Device = {config.Device}: the distributed optimizer steps on the CPU over MPI; on GPUs it needs NCCL, which is planned.");
        }
        foreach (SpaceTensor tensor in space.Tensors)
        {
            if (tensor.Spec.Group >= groups.Count)
            {
                throw new ArgumentException(
                    $"{tensor.Spec.Describe(tensor.Index)} is in group {tensor.Spec.Group}, but there are {groups.Count} group(s).", nameof(space));
            }
        }
    }

    /// <summary>What every rank must agree on, one fact per line (a mismatch message quotes the first differing line).</summary>
    private static List<string> Describe(ParameterSpace space, IReadOnlyList<AdaBeliefOptions> groups)
    {
        var lines = new List<string> { $"{groups.Count} group(s) and {space.Tensors.Count} tensor(s)" };
        for (int g = 0; g < groups.Count; g++)
        {
            lines.Add($"group {g}: {groups[g]}");
        }
        foreach (SpaceTensor tensor in space.Tensors)
        {
            TensorSpec spec = tensor.Spec;
            lines.Add($"{spec.Describe(tensor.Index)}: {spec.Length} elements, {spec.ParameterType} parameters, group {spec.Group}, "
                + (spec.KeepMasterCopy ? "a master copy" : "no master copy"));
        }
        return lines;
    }

    /// <summary>Per tensor, the optimizer-state bytes of one element when the layout is made.</summary>
    private static int[] StateBytesPerElement(ParameterSpace space, IReadOnlyList<AdaBeliefOptions> groups) =>
        [.. space.Tensors.Select(t => 8 + (t.Spec.KeepMasterCopy ? 4 : 0) + (groups[t.Spec.Group].AmsGrad ? 4 : 0))];

    /// <summary>Every rank starts from rank 0's parameters.</summary>
    private void BroadcastParameters()
    {
        long blocks = _space.ParameterBytes / ParameterSpace.Alignment;
        _communicator.Broadcast(CollectiveElement.Block, (void*)_space.ParameterBase, checked((int)blocks), root: 0);
    }

    /// <summary>This rank's native optimizer: the groups, and one tensor per owned piece (its parameters in the space, its gradients in the shard's sum).</summary>
    private AdaBeliefOptimizer CreateLocal(IReadOnlyList<AdaBeliefOptions> groups, OptimizerConfig config)
    {
        var local = new AdaBeliefOptimizer(config);
        try
        {
            foreach (AdaBeliefOptions options in groups)
            {
                local.AddParamGroup(options);
            }
            long gradientStart = _layout.GradientStarts[_communicator.Rank];
            foreach (ShardPiece piece in _layout.Pieces[_communicator.Rank])
            {
                SpaceTensor tensor = _space.Tensors[piece.Tensor];
                nint parameters = _space.ParameterBase + (nint)(tensor.ParameterOffset + piece.Offset * TensorElementTypes.SizeOf(tensor.ParameterType));
                nint gradients = _shardGradients.Address + (nint)((tensor.GradientOffset + piece.Offset - gradientStart) * sizeof(float));
                local.ParamGroups[tensor.Spec.Group].AddTensor(parameters, tensor.ParameterType, gradients, TensorElementType.Float32,
                    piece.Length, tensor.Spec.KeepMasterCopy);
            }
            return local;
        }
        catch
        {
            local.Dispose();
            throw;
        }
    }
}
