using System.Collections.ObjectModel;
using NativeAdaBelief.Interop;

namespace NativeAdaBelief;

/// <summary>
/// A fused, multi-tensor AdaBelief optimizer (and its Adam-family relatives) running in native
/// code. Shaped like TorchSharp's <c>torch.optim</c>: parameter groups with their own
/// hyper-parameters (<see cref="ParamGroups"/>, <see cref="AddParamGroup"/>), tensors registered
/// into groups, <see cref="Step"/> and <see cref="ZeroGrad"/>.
/// </summary>
/// <remarks>
/// <para><see cref="Step"/> advances every tensor of every group that has a gradient in one
/// native call, on the optimizer's own worker threads, and allocates nothing on the managed
/// heap.</para>
/// <para>Not thread-safe: use one optimizer from one thread at a time (a concurrent call is
/// refused with <see cref="InvalidOperationException"/> rather than corrupting state).
/// Different optimizers are independent.</para>
/// <para>The optimizer keeps registered managed memory pinned and registered
/// <see cref="NativeBuffer"/>s alive until it is disposed or the tensor is pointed elsewhere.
/// Dispose it (it is idempotent); afterwards every member throws
/// <see cref="ObjectDisposedException"/>.</para>
/// </remarks>
public sealed class AdaBeliefOptimizer : IDisposable, IScheduledOptimizer
{
    private readonly OptimizerHandle _handle;
    private readonly List<ParameterGroup> _groups = [];
    private readonly List<OptimizerTensor> _tensors = [];
    private readonly Lock _sync = new();

    /// <summary>Creates an optimizer with no parameter groups yet (add them with <see cref="AddParamGroup"/>).</summary>
    /// <param name="config">Device, threads and SIMD level; null for the defaults (CPU, all cores, best SIMD).</param>
    /// <exception cref="ArgumentOutOfRangeException">A <paramref name="config"/> value is invalid.</exception>
    /// <exception cref="NotSupportedException">The SIMD level or device is not available on this machine or build.</exception>
    /// <exception cref="NativeLibraryNotFoundException">The native library could not be loaded.</exception>
    public unsafe AdaBeliefOptimizer(OptimizerConfig? config = null)
    {
        config ??= new OptimizerConfig();
        config.Validate();
        nab_optimizer_config native = config.ToNative();

        _handle = new OptimizerHandle();
        nint raw;
        NativeStatus.Check(NativeMethods.nab_optimizer_create(&native, &raw), nameof(config));
        _handle.Attach(raw);
        Device = config.Device;
        ParamGroups = new ReadOnlyCollection<ParameterGroup>(_groups);
        Tensors = new ReadOnlyCollection<OptimizerTensor>(_tensors);
    }

    /// <summary>Creates an optimizer with one parameter group using <paramref name="options"/>.</summary>
    /// <param name="options">The first group's hyper-parameters.</param>
    /// <param name="config">Device, threads and SIMD level; null for the defaults.</param>
    /// <exception cref="ArgumentOutOfRangeException">An option is invalid (checked before anything native is created).</exception>
    public AdaBeliefOptimizer(AdaBeliefOptions options, OptimizerConfig? config = null)
        : this(ValidateBeforeCreating(options, config))
    {
        try
        {
            AddParamGroup(options);
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>Checks the first group's options before the native optimizer is created.</summary>
    private static OptimizerConfig? ValidateBeforeCreating(AdaBeliefOptions options, OptimizerConfig? config)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        return config;
    }

    /// <summary>The parameter groups, in the order they were added (their <see cref="ParameterGroup.Id"/> is their index).</summary>
    public IReadOnlyList<ParameterGroup> ParamGroups { get; }

    /// <inheritdoc />
    int IScheduledOptimizer.GroupCount => ParamGroups.Count;

    /// <inheritdoc />
    double IScheduledOptimizer.GetLearningRate(int group) => ParamGroups[group].LearningRate;

    /// <inheritdoc />
    void IScheduledOptimizer.SetLearningRate(int group, double learningRate) => ParamGroups[group].LearningRate = learningRate;

    /// <inheritdoc />
    void IScheduledOptimizer.SetBeta1(int group, double beta1)
    {
        ParameterGroup g = ParamGroups[group];
        AdaBeliefOptions options = g.Options;
        if (options.Beta1 != beta1)
        {
            g.Options = options with { Beta1 = beta1 };
        }
    }

    /// <summary>Every registered tensor across all groups, in registration order (their <see cref="OptimizerTensor.Id"/> is their index).</summary>
    public IReadOnlyList<OptimizerTensor> Tensors { get; }

    /// <summary>Where this optimizer keeps its state and runs its step.</summary>
    public DeviceType Device { get; }

    /// <summary>True once <see cref="Dispose"/> has been called.</summary>
    public bool IsDisposed => _handle.IsClosed;

    /// <summary>
    /// The number of worker threads a step uses, including the caller's (reading gives the resolved
    /// count, never 0). Set 0 for one per logical core. Results are bit-identical for every count.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">Set to a negative value or one above <see cref="OptimizerConfig.MaxThreadCount"/>.</exception>
    public unsafe int ThreadCount
    {
        get
        {
            using var call = Enter();
            int count;
            NativeStatus.Check(NativeMethods.nab_optimizer_get_thread_count(call.Pointer, &count));
            return count;
        }
        set
        {
            using var call = Enter();
            NativeValidation.Check(NativeMethods.nab_optimizer_set_thread_count(call.Pointer, value), nameof(AdaBeliefOptimizer),
                "thread_count", nameof(ThreadCount), value);
        }
    }

    /// <summary>
    /// The CPU kernel's instruction-set level (reading gives the resolved level, never
    /// <see cref="NativeAdaBelief.SimdLevel.Auto"/>). Results are bit-identical for every level.
    /// </summary>
    /// <exception cref="NotSupportedException">Set to a level this CPU lacks.</exception>
    public unsafe SimdLevel SimdLevel
    {
        get
        {
            using var call = Enter();
            int level;
            NativeStatus.Check(NativeMethods.nab_optimizer_get_simd_level(call.Pointer, &level));
            return (SimdLevel)level;
        }
        set
        {
            using var call = Enter();
            NativeValidation.Check(NativeMethods.nab_optimizer_set_simd_level(call.Pointer, (int)value), nameof(AdaBeliefOptimizer),
                "simd_level", nameof(SimdLevel), value);
        }
    }

    /// <summary>Adds a parameter group (it may be added at any time, also after steps were taken).</summary>
    /// <param name="options">The group's hyper-parameters; validated before anything native is touched.</param>
    /// <returns>The new group.</returns>
    /// <exception cref="ArgumentOutOfRangeException">An option is invalid.</exception>
    public unsafe ParameterGroup AddParamGroup(AdaBeliefOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        nab_group_options native = options.ToNative();
        lock (_sync)
        {
            using var call = Enter();
            uint id;
            NativeStatus.Check(NativeMethods.nab_optimizer_add_group(call.Pointer, &native, &id), nameof(options));
            var group = new ParameterGroup(this, checked((int)id));
            _groups.Add(group);
            return group;
        }
    }

    /// <summary>
    /// Advances every tensor that has a gradient by one step: gradient scaling (see
    /// <see cref="StepOptions"/>), weight decay, moments, step count, parameter update, in one
    /// fused native call. Tensors without a gradient are skipped entirely. Allocates nothing on
    /// the managed heap. On the CPU it returns when the step is done; on CUDA when its kernels
    /// are queued on the optimizer's stream (see <see cref="Synchronize"/> and
    /// <see cref="SetCudaStream"/>).
    /// </summary>
    /// <remarks>
    /// <para>With the default <see cref="StepOptions"/> gradients are not checked: a NaN or
    /// infinite gradient element makes that element's state non-finite. Set
    /// <see cref="NativeAdaBelief.StepOptions.SkipNonFinite"/> (or use a
    /// <see cref="DynamicLossScaler"/>) to skip such a step as a whole, or call
    /// <see cref="CountNonFiniteGradients"/> first and decide yourself.
    /// <see cref="GetLastStepReport"/> says what the last step did.</para>
    /// </remarks>
    /// <exception cref="ObjectDisposedException">The optimizer was disposed.</exception>
    /// <exception cref="InvalidOperationException">Another thread is using this optimizer right now.</exception>
    /// <exception cref="ArgumentException">A tensor that would step has <see cref="OptimizerTensor.Step"/> =
    /// <see cref="long.MaxValue"/>, which cannot grow (nothing was changed).</exception>
    public void Step()
    {
        using var call = Enter();
        NativeStatus.Check(NativeMethods.nab_optimizer_step(call.Pointer));
    }

    /// <summary>
    /// What every later <see cref="Step"/> does to the gradients before the update: the inverse
    /// loss scale, skipping steps with non-finite gradients, clipping by the global L2 norm
    /// (see <see cref="NativeAdaBelief.StepOptions"/>). Reading returns the options in force;
    /// setting validates and replaces all of them (they stay in force until set again). The
    /// default is <c>new StepOptions()</c>: nothing checked, scale 1, no clipping.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">Set to invalid options (nothing is changed).</exception>
    /// <exception cref="ObjectDisposedException">The optimizer was disposed.</exception>
    /// <exception cref="InvalidOperationException">Another thread is using this optimizer right now.</exception>
    public StepOptions StepOptions
    {
        get => StepOptions.FromNative(GetStepOptionsNative());
        set
        {
            ArgumentNullException.ThrowIfNull(value, nameof(StepOptions));
            value.Validate();
            SetStepOptionsNative(value.ToNative(), nameof(StepOptions));
        }
    }

    /// <summary>
    /// What the last <see cref="Step"/> did with the gradients: whether it checked them, whether
    /// it was skipped, how many non-finite elements it found, the global gradient norm and the
    /// factor the gradients were multiplied by. Before any step: nothing checked, not skipped,
    /// scale 1, <see cref="StepReport.StepCalls"/> 0. Allocates nothing on the managed heap.
    /// </summary>
    /// <returns>The report.</returns>
    /// <remarks>
    /// A CUDA optimizer waits for its stream and copies the report from the device: this is the
    /// one host synchronisation of a loss-scaled CUDA training loop (the skip decision and the
    /// clipping factor themselves stay on the device).
    /// </remarks>
    /// <exception cref="ObjectDisposedException">The optimizer was disposed.</exception>
    /// <exception cref="InvalidOperationException">Another thread is using this optimizer right now.</exception>
    /// <exception cref="NativeAdaBeliefException">A queued CUDA kernel failed.</exception>
    public unsafe StepReport GetLastStepReport()
    {
        using var call = Enter();
        nab_step_report native = default;
        native.struct_size = (uint)sizeof(nab_step_report);
        NativeStatus.Check(NativeMethods.nab_optimizer_get_last_step_report(call.Pointer, &native));
        return StepReport.FromNative(native);
    }

    /// <summary>
    /// Makes a CUDA optimizer queue its work on <paramref name="stream"/> (a <c>cudaStream_t</c>
    /// from your engine; 0 = the legacy default stream, the initial setting). Work queued on the
    /// previous stream is waited for first. The stream must outlive its use by this optimizer.
    /// </summary>
    /// <param name="stream">The CUDA stream handle.</param>
    /// <exception cref="ArgumentException">This optimizer runs on the CPU.</exception>
    /// <exception cref="ObjectDisposedException">The optimizer was disposed.</exception>
    public unsafe void SetCudaStream(nint stream)
    {
        using var call = Enter();
        NativeStatus.Check(NativeMethods.nab_optimizer_set_cuda_stream(call.Pointer, (void*)stream), nameof(stream));
    }

    /// <summary>
    /// Waits until every step and zeroing queued by this optimizer has finished. A CUDA
    /// optimizer's <see cref="Step"/> returns as soon as its kernels are queued; on the CPU every
    /// call has already finished and this returns at once.
    /// </summary>
    /// <exception cref="NativeAdaBeliefException">A queued kernel failed (the message carries CUDA's text).</exception>
    /// <exception cref="ObjectDisposedException">The optimizer was disposed.</exception>
    public void Synchronize()
    {
        using var call = Enter();
        NativeStatus.Check(NativeMethods.nab_optimizer_synchronize(call.Pointer));
    }

    /// <summary>Sets every registered gradient buffer to zero, in one fused native call.</summary>
    /// <exception cref="ObjectDisposedException">The optimizer was disposed.</exception>
    public void ZeroGrad()
    {
        using var call = Enter();
        NativeStatus.Check(NativeMethods.nab_optimizer_zero_gradients(call.Pointer));
    }

    /// <summary>
    /// Counts the gradient elements that are NaN, +Infinity or -Infinity across every tensor that
    /// has a gradient, in one fused, read-only native pass (the NaN/Inf policy's opt-in check).
    /// </summary>
    /// <returns>The number of non-finite gradient elements; 0 when every gradient is finite.</returns>
    /// <remarks>
    /// <para>With the default <see cref="StepOptions"/>, <see cref="Step"/> does not check its
    /// gradients: a non-finite gradient element makes that element's moments and parameter
    /// non-finite for good. <see cref="NativeAdaBelief.StepOptions.SkipNonFinite"/> makes the
    /// step do this count itself, fused with the step, and skip when it is not 0 (without a
    /// host round trip on CUDA). This method is the stand-alone check for a caller that
    /// decides itself:</para>
    /// <code>
    /// if (optimizer.CountNonFiniteGradients() == 0) optimizer.Step();
    /// optimizer.ZeroGrad();
    /// </code>
    /// <para>It reads every gradient once (4 bytes per float32 element, 2 per 16-bit one),
    /// changes nothing, and allocates nothing on the managed heap. On a CUDA optimizer it waits
    /// for the work queued before it and for its own result.</para>
    /// </remarks>
    /// <exception cref="ObjectDisposedException">The optimizer was disposed.</exception>
    /// <exception cref="InvalidOperationException">Another thread is using this optimizer right now.</exception>
    public unsafe long CountNonFiniteGradients()
    {
        using var call = Enter();
        ulong count;
        NativeStatus.Check(NativeMethods.nab_optimizer_count_nonfinite_gradients(call.Pointer, &count));
        return checked((long)count);
    }

    /// <summary>
    /// Counts the parameter values that are NaN, +Infinity or -Infinity across every tensor (the
    /// float32 master copy for a tensor that keeps one), in one read-only native pass: the check
    /// of what the steps wrote, for finding where a NaN came from.
    /// </summary>
    /// <returns>The number of non-finite parameter values; 0 when every parameter is finite.</returns>
    /// <remarks>
    /// Finite gradients and valid options keep the parameters finite, with one exception that the
    /// original implementations share: <see cref="AdaBeliefOptions.Epsilon"/> = 0 with a gradient
    /// element that stays exactly 0 (a frozen layer) makes that parameter NaN (0 / 0 in the
    /// update). <see cref="CountNonFiniteGradients"/> cannot see that one; this method can. On a
    /// CUDA optimizer it waits for the queued work and for its own result.
    /// </remarks>
    /// <exception cref="ObjectDisposedException">The optimizer was disposed.</exception>
    /// <exception cref="InvalidOperationException">Another thread is using this optimizer right now.</exception>
    public unsafe long CountNonFiniteParameters()
    {
        using var call = Enter();
        ulong count;
        NativeStatus.Check(NativeMethods.nab_optimizer_count_nonfinite_parameters(call.Pointer, &count));
        return checked((long)count);
    }

    /// <summary>
    /// Elements per chunk of the gradient pass (the native <c>NAB_GRADIENT_CHUNK_ELEMENTS</c>): the
    /// pass cuts every tensor into chunks of this many elements from its first element and adds
    /// the chunks' totals in tensor order. A tensor registered as a sub-range of a larger one that
    /// starts a multiple of this many elements into it has exactly the larger one's chunks there.
    /// </summary>
    public const int GradientChunkElements = (int)NativeMethods.NAB_GRADIENT_CHUNK_ELEMENTS;

    /// <summary>
    /// The number of chunks of the gradient pass over the tensors that have gradients: the sum of
    /// ⌈<see cref="OptimizerTensor.Length"/> / <see cref="GradientChunkElements"/>⌉. For
    /// <see cref="ComputeGradientChunkStatistics"/>.
    /// </summary>
    /// <exception cref="NotSupportedException">A CUDA optimizer (its pass is cut by thread blocks).</exception>
    /// <exception cref="ObjectDisposedException">The optimizer was disposed.</exception>
    public unsafe long GradientChunkCount
    {
        get
        {
            using var call = Enter();
            ulong count;
            NativeStatus.Check(NativeMethods.nab_optimizer_get_gradient_chunk_count(call.Pointer, &count));
            return checked((long)count);
        }
    }

    /// <summary>
    /// The gradient pass alone, per chunk, for a model split across optimizers (data-parallel
    /// training with sharded optimizer state, where each process registers its part of every
    /// tensor as a tensor of its own): writes each chunk's sum of squares (in double, of the
    /// gradients as stored) and its number of NaN and ±∞ elements, in the pass's order (tensor
    /// order, then element order). Changes nothing. Gather every part's chunk totals in the
    /// model's order and step each part with <see cref="StepWithGradientStatistics"/>: the skip,
    /// the clipping factor and the norm are then decided identically everywhere, bit-identically
    /// to one optimizer holding the whole model when the parts start at multiples of
    /// <see cref="GradientChunkElements"/> into their tensors.
    /// </summary>
    /// <param name="sumsOfSquares">Receives one sum per chunk; exactly <see cref="GradientChunkCount"/> long.</param>
    /// <param name="nonFiniteCounts">Receives one count per chunk; as long as <paramref name="sumsOfSquares"/>.</param>
    /// <exception cref="ArgumentException">A span's length is not the chunk count (the message says it); nothing is written.</exception>
    /// <exception cref="NotSupportedException">A CUDA optimizer.</exception>
    /// <exception cref="ObjectDisposedException">The optimizer was disposed.</exception>
    public unsafe void ComputeGradientChunkStatistics(Span<double> sumsOfSquares, Span<long> nonFiniteCounts)
    {
        CheckSameLength(sumsOfSquares.Length, nonFiniteCounts.Length);
        using var call = Enter();
        fixed (double* sums = sumsOfSquares)
        fixed (long* counts = nonFiniteCounts)
        {
            NativeStatus.Check(NativeMethods.nab_optimizer_compute_gradient_chunk_statistics(call.Pointer, sums, (ulong*)counts,
                (ulong)sumsOfSquares.Length), nameof(sumsOfSquares));
        }
    }

    /// <summary>
    /// <see cref="Step"/>, except that the step makes no gradient pass of its own: when the
    /// <see cref="StepOptions"/> ask for one, it adds the given chunk totals in order (typically
    /// every part's <see cref="ComputeGradientChunkStatistics"/> of a split model, in the model's
    /// order) and decides the skip, the clipping factor and the norm from that sum exactly as
    /// <see cref="Step"/> decides from its own pass. When they ask for none, the totals are not
    /// read. Allocates nothing on the managed heap.
    /// </summary>
    /// <param name="sumsOfSquares">The chunks' sums of squares (any number of chunks, also none).</param>
    /// <param name="nonFiniteCounts">The chunks' non-finite counts; as long as <paramref name="sumsOfSquares"/>.</param>
    /// <exception cref="ArgumentException">The spans' lengths differ, or as <see cref="Step"/>.</exception>
    /// <exception cref="NotSupportedException">A CUDA optimizer.</exception>
    /// <exception cref="ObjectDisposedException">The optimizer was disposed.</exception>
    public unsafe void StepWithGradientStatistics(ReadOnlySpan<double> sumsOfSquares, ReadOnlySpan<long> nonFiniteCounts)
    {
        CheckSameLength(sumsOfSquares.Length, nonFiniteCounts.Length);
        using var call = Enter();
        fixed (double* sums = sumsOfSquares)
        fixed (long* counts = nonFiniteCounts)
        {
            NativeStatus.Check(NativeMethods.nab_optimizer_step_with_gradient_statistics(call.Pointer, sums, (ulong*)counts,
                (ulong)sumsOfSquares.Length));
        }
    }

    /// <summary>Refuses chunk-total spans of different lengths.</summary>
    private static void CheckSameLength(int sums, int counts)
    {
        if (sums != counts)
        {
            throw new ArgumentException(
                $"nonFiniteCounts has {counts} elements but sumsOfSquares has {sums}: one of each per chunk.", "nonFiniteCounts");
        }
    }

    /// <summary>
    /// Points every tensor at new gradients in one native call: <paramref name="gradients"/>[i] is
    /// the address of tensor i's gradients (index = <see cref="OptimizerTensor.Id"/>; the element
    /// type it was registered with), or 0 to skip it in later steps. For engines whose gradients
    /// are reallocated between steps (TorchSharp or PyTorch setting them to None): one call per
    /// step instead of one <see cref="OptimizerTensor.SetGradients(nint, TensorElementType)"/> per
    /// tensor. As with raw addresses, the caller keeps the memory valid while it is registered;
    /// managed memory or buffers registered before are let go. Allocates nothing.
    /// </summary>
    /// <param name="gradients">One address (or 0) per registered tensor.</param>
    /// <exception cref="ArgumentException">The length is not the tensor count, or the new gradients share memory
    /// with a tensor's parameters or with each other (checked as a whole; the message names gradients[i] and the
    /// other tensor); nothing was changed.</exception>
    /// <exception cref="ObjectDisposedException">The optimizer was disposed.</exception>
    public unsafe void SetGradients(ReadOnlySpan<nint> gradients)
    {
        lock (_sync)
        {
            using (var call = Enter())
            {
                fixed (nint* addresses = gradients)
                {
                    NativeStatus.Check(NativeMethods.nab_optimizer_set_gradients(call.Pointer, (void**)addresses, (uint)gradients.Length),
                        nameof(gradients));
                }
            }
            for (int i = 0; i < gradients.Length; i++)
            {
                _handle.ReplaceGradients(i, MemoryKeepAlive.None);
                _tensors[i].HasGradients = gradients[i] != 0;
            }
        }
    }

    /// <summary>
    /// Begins an all-or-nothing replacement of the whole state (every group's options, every
    /// tensor's step count and arrays): see <see cref="StateRestore"/>. For state that comes from
    /// elsewhere than a checkpoint file, e.g. an engine adapter's state dictionary.
    /// </summary>
    /// <returns>The restore; stage every group and tensor, then <see cref="StateRestore.Commit"/>; dispose it in every case.</returns>
    /// <exception cref="ObjectDisposedException">The optimizer was disposed.</exception>
    public StateRestore BeginRestore() =>
        new(this, (message, paramName) => new ArgumentException(message, paramName));

    /// <summary>
    /// Saves the whole optimizer state (options of every group, step counts, m, s, s_max, the
    /// tensors' element types and float32 master copies) to
    /// <paramref name="stream"/> in the safetensors format described in docs/checkpoint-format.md.
    /// </summary>
    /// <param name="stream">A writable stream; written from its current position, not closed.</param>
    /// <exception cref="NotSupportedException">The header would exceed the 100,000,000 bytes a load
    /// (and every safetensors reader) accepts, which takes hundreds of thousands of tensors; nothing
    /// was written.</exception>
    /// <exception cref="InvalidOperationException">The state changed while it was written (another
    /// thread used the optimizer); the stream holds no valid checkpoint.</exception>
    public void SaveCheckpoint(Stream stream) => CheckpointWriter.Save(this, stream);

    /// <summary>
    /// Saves the checkpoint to a file atomically: it is written to a temporary file in the same
    /// folder, flushed to disk, then moved over <paramref name="path"/>. On failure the previous
    /// file (if any) is untouched and no partial file is left behind; temporary files that earlier
    /// interrupted saves of the same file left (more than a minute old) are removed. A symbolic link
    /// at <paramref name="path"/> is followed: the file it points to is replaced, the link stays.
    /// </summary>
    /// <param name="path">The file to create or replace.</param>
    /// <exception cref="DirectoryNotFoundException">The folder of <paramref name="path"/> does not exist.</exception>
    /// <exception cref="UnauthorizedAccessException">The file is read-only, or the folder is not writable.</exception>
    /// <exception cref="NotSupportedException">The header would be too large (see <see cref="SaveCheckpoint(Stream)"/>).</exception>
    public void SaveCheckpoint(string path) => CheckpointWriter.Save(this, path);

    /// <summary>
    /// Restores the state saved by <see cref="SaveCheckpoint(Stream)"/> into this optimizer, which
    /// must have the same groups and tensors (counts, groups, sizes, element types and master
    /// copies) registered. All or nothing: the header is checked first, then the data is read once,
    /// checked (its SHA-256, and values such as second moments that are never negative or NaN) and
    /// staged natively beside the current state, which it replaces only when every byte has been
    /// verified. On any failure — a malformed or mismatched file, an I/O error, running out of
    /// memory, another thread's call — the optimizer is left exactly as it was.
    /// </summary>
    /// <param name="stream">A readable stream positioned at the checkpoint's first byte (it need not be seekable).</param>
    /// <exception cref="InvalidDataException">The checkpoint is malformed, corrupted, or does not match this optimizer.</exception>
    /// <exception cref="IOException">The stream failed.</exception>
    /// <exception cref="InvalidOperationException">Another thread was using this optimizer.</exception>
    public void LoadCheckpoint(Stream stream) => CheckpointReader.Load(this, stream);

    /// <summary>Restores the state from a checkpoint file; see <see cref="LoadCheckpoint(Stream)"/>.</summary>
    /// <param name="path">The checkpoint file.</param>
    /// <exception cref="InvalidDataException">The checkpoint is malformed, corrupted, or does not match this optimizer.</exception>
    /// <exception cref="FileNotFoundException">There is no such file.</exception>
    public void LoadCheckpoint(string path) => CheckpointReader.Load(this, path);

    /// <summary>
    /// Saves the optimizer state and the training run's side of it (<paramref name="training"/>:
    /// the schedules' states, the loss scaler's scale and good steps, the global step and the
    /// caller's metadata) into one checkpoint, atomically as <see cref="SaveCheckpoint(string)"/>
    /// does (format version 4, docs/checkpoint-format.md).
    /// </summary>
    /// <param name="path">The file to create or replace.</param>
    /// <param name="training">What to save beside the optimizer state.</param>
    /// <exception cref="ArgumentException">A schedule is null, or the metadata holds an empty key.</exception>
    /// <exception cref="DirectoryNotFoundException">The folder of <paramref name="path"/> does not exist.</exception>
    /// <exception cref="UnauthorizedAccessException">The file is read-only, or the folder is not writable.</exception>
    public void SaveCheckpoint(string path, TrainingState training)
    {
        ArgumentNullException.ThrowIfNull(training);
        CheckpointWriter.Save(this, path, training);
    }

    /// <summary>Saves the optimizer state and <paramref name="training"/> to <paramref name="stream"/>; see <see cref="SaveCheckpoint(string, TrainingState)"/>.</summary>
    /// <param name="stream">A writable stream; written from its current position, not closed.</param>
    /// <param name="training">What to save beside the optimizer state.</param>
    /// <exception cref="ArgumentException">A schedule is null, or the metadata holds an empty key.</exception>
    public void SaveCheckpoint(Stream stream, TrainingState training)
    {
        ArgumentNullException.ThrowIfNull(training);
        CheckpointWriter.Save(this, stream, training: training);
    }

    /// <summary>
    /// Restores the optimizer state and the training state saved by
    /// <see cref="SaveCheckpoint(string, TrainingState)"/>: every schedule of
    /// <paramref name="training"/> (the same kinds, in the same order), the loss scaler, the global
    /// step and the metadata. All or nothing: the training state is checked and staged with the
    /// header, before any data is read, and committed only after the optimizer's state is.
    /// </summary>
    /// <param name="path">The checkpoint file.</param>
    /// <param name="training">The schedules and loss scaler to restore into (created anew, on this optimizer); its global step and metadata are set.</param>
    /// <exception cref="InvalidDataException">The checkpoint is malformed, corrupted, does not match this optimizer, holds no training state, or holds one that does not fit <paramref name="training"/> (another count or kind of schedule, a loss scaler on one side only); nothing changed.</exception>
    /// <exception cref="FileNotFoundException">There is no such file.</exception>
    public void LoadCheckpoint(string path, TrainingState training)
    {
        ArgumentNullException.ThrowIfNull(training);
        CheckpointReader.Load(this, path, training);
    }

    /// <summary>Restores the optimizer state and <paramref name="training"/> from <paramref name="stream"/>; see <see cref="LoadCheckpoint(string, TrainingState)"/>.</summary>
    /// <param name="stream">A readable stream positioned at the checkpoint's first byte.</param>
    /// <param name="training">The schedules and loss scaler to restore into; its global step and metadata are set.</param>
    /// <exception cref="InvalidDataException">As <see cref="LoadCheckpoint(string, TrainingState)"/>; nothing changed.</exception>
    public void LoadCheckpoint(Stream stream, TrainingState training)
    {
        ArgumentNullException.ThrowIfNull(training);
        CheckpointReader.Load(this, stream, training: training);
    }

    /// <summary>Destroys the native optimizer and releases the memory it kept pinned or referenced. Idempotent.</summary>
    public void Dispose() => _handle.Dispose();

    // ---- Internal plumbing shared by groups, tensors and checkpoints. ----

    /// <summary>Every tensor's step count (index = tensor id), in one native call.</summary>
    internal unsafe long[] ReadStepCounts()
    {
        using var call = Enter();
        var steps = new long[_tensors.Count];
        fixed (long* s = steps)
        {
            NativeStatus.Check(NativeMethods.nab_optimizer_get_step_counts(call.Pointer, s, (uint)steps.Length));
        }
        return steps;
    }

    /// <summary>Holds the native optimizer for one call (and counts the call, see <see cref="NativeCalls"/>).</summary>
    internal NativeCall Enter()
    {
        NativeCalls++;
        return new(_handle, this);
    }

    /// <summary>
    /// Native calls made on this optimizer so far: what the tests use to show that an operation
    /// costs O(N) calls for N tensors. (Approximate under misuse from several threads, which the
    /// native side refuses anyway.)
    /// </summary>
    internal long NativeCalls { get; private set; }

    internal OptimizerHandle Handle => _handle;

    internal Lock Sync => _sync;

    /// <summary>
    /// Registers a tensor (called by <see cref="ParameterGroup"/>): checks what the native library
    /// would refuse less clearly, then adds it; releases the keep-alives on failure.
    /// </summary>
    internal unsafe OptimizerTensor AddTensor(ParameterGroup group, void* parameters, TensorElementType parameterType,
        void* gradients, TensorElementType gradientType, long length, bool keepMasterCopy,
        MemoryKeepAlive keepParameters, MemoryKeepAlive keepGradients)
    {
        try
        {
            ElementTypes.CheckDefined(parameterType, nameof(parameterType));
            ElementTypes.CheckDefined(gradientType, nameof(gradientType));
            var desc = new nab_tensor_desc
            {
                struct_size = (uint)sizeof(nab_tensor_desc),
                group_id = (uint)group.Id,
                element_count = (ulong)length,
                parameters = parameters,
                gradients = gradients,
                parameter_dtype = ElementTypes.ToNative(parameterType),
                gradient_dtype = ElementTypes.ToNative(gradientType),
                master_parameters = keepMasterCopy ? 1 : 0,
            };
            lock (_sync)
            {
                using var call = Enter();
                uint id;
                nab_status status = NativeMethods.nab_optimizer_add_tensor(call.Pointer, &desc, &id);
                if (status != nab_status.NAB_STATUS_OK)
                {
                    throw RegistrationRefused(status, parameterType, length);
                }
                _handle.AddTensor(keepParameters, keepGradients);
                var tensor = new OptimizerTensor(group, checked((int)id), length, parameterType, gradientType, keepMasterCopy,
                    hasGradients: gradients != null);
                _tensors.Add(tensor);
                group.AddTensorInternal(tensor);
                return tensor;
            }
        }
        catch
        {
            keepParameters.Release();
            keepGradients.Release();
            throw;
        }
    }

    /// <summary>
    /// The exception for a registration the native library refused, naming the managed argument
    /// that the refused field of <c>nab_tensor_desc</c> stands for.
    /// </summary>
    private static Exception RegistrationRefused(nab_status status, TensorElementType parameterType, long length)
    {
        string message = NativeStatus.LastError();
        return NativeStatus.LastErrorArgument() switch
        {
            "tensor->element_count" => new ArgumentOutOfRangeException("length", length, message),
            "tensor->parameters" => new ArgumentException(message, "parameters"),
            "tensor->gradients" => new ArgumentException(message, "gradients"),
            "tensor->master_parameters" => new ArgumentException(
                $"keepMasterCopy = true with {parameterType} parameters is refused: {message}", "keepMasterCopy"),
            _ => NativeStatus.Create(status, message),
        };
    }

    /// <summary>The step options in force, as the native struct (allocation-free; for <see cref="DynamicLossScaler"/>).</summary>
    internal unsafe nab_step_options GetStepOptionsNative()
    {
        using var call = Enter();
        nab_step_options native = default;
        native.struct_size = (uint)sizeof(nab_step_options);
        NativeStatus.Check(NativeMethods.nab_optimizer_get_step_options(call.Pointer, &native));
        return native;
    }

    /// <summary>Sets the step options from the native struct (validated natively).</summary>
    internal unsafe void SetStepOptionsNative(nab_step_options native, string paramName)
    {
        native.struct_size = (uint)sizeof(nab_step_options);
        using var call = Enter();
        NativeStatus.Check(NativeMethods.nab_optimizer_set_step_options(call.Pointer, &native), paramName);
    }
}
