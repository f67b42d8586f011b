using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.optim;

namespace NativeAdaBelief.TorchSharp;

/// <summary>
/// NativeAdaBelief's fused step as a TorchSharp optimizer: a <c>torch.optim.Optimizer</c> (an
/// <see cref="OptimizerHelper"/>, like TorchSharp's own Adam) that registers the parameters' own
/// memory with a native <see cref="AdaBeliefOptimizer"/> and updates every parameter of every
/// group in one native call per <see cref="step"/>. <c>zero_grad()</c>, <c>step(closure)</c>,
/// TorchSharp's LR schedulers, <c>state_dict()</c>/<c>load_state_dict()</c> and
/// <c>save_state_dict</c> work as with <c>torch.optim.Adam</c>; <see cref="NativeOptim"/> has the
/// one-line replacements of <c>torch.optim.Adam</c> and <c>AdamW</c>.
/// </summary>
/// <remarks>
/// <para>Parameters: float32, float16 or bfloat16 (16-bit ones with float32 master copies),
/// contiguous, all on one device: CPU tensors are stepped on the CPU, CUDA tensors by the CUDA
/// backend on their device (on the legacy default stream, TorchSharp's default). Other tensors
/// are refused when the optimizer is created, with a message naming the parameter.</para>
/// <para>Gradients are found anew before every step and <c>zero_grad()</c>: a parameter whose
/// gradient is None is skipped (no decay, no moment update, its step count unchanged), and
/// gradients TorchSharp reallocated (after <c>module.zero_grad()</c>, which sets them to None) are
/// registered again in one native call (<see cref="AdaBeliefOptimizer.SetGradients"/>), after
/// their element type, element count, device and contiguity were checked.</para>
/// <para>Not thread-safe, as TorchSharp's optimizers. Dispose it to free the native state.</para>
/// </remarks>
public sealed class NativeAdaBeliefOptimizer : OptimizerHelper, IBetas
{
    private readonly AdaBeliefOptimizer _core;
    private readonly Device _device;
    private readonly List<ParameterBinding> _bindings = [];
    private readonly List<(AdaBeliefGroupOptions Options, AdaBeliefOptions Settings, double LearningRate)> _pushed = [];
    private nint[] _gradients = [];
    private nint[] _reading = [];

    /// <summary>An optimizer of <paramref name="parameters"/> (e.g. <c>module.parameters()</c>) in one group.</summary>
    /// <param name="parameters">The parameters to optimize.</param>
    /// <param name="options">The hyper-parameters (null: AdaBelief's defaults, labml's arithmetic; see docs/compatibility.md).</param>
    /// <param name="config">Threads and SIMD level of a CPU optimizer (null: all cores, the best SIMD level); the device is the parameters'.</param>
    /// <exception cref="ArgumentException">No parameters, a parameter that cannot be stepped, or parameters on more than one device.</exception>
    /// <exception cref="ArgumentOutOfRangeException">An option is invalid.</exception>
    public NativeAdaBeliefOptimizer(IEnumerable<Parameter> parameters, AdaBeliefOptions? options = null, OptimizerConfig? config = null)
        : this([new AdaBeliefParamGroup(parameters ?? throw new ArgumentNullException(nameof(parameters)))], options, config)
    {
    }

    /// <summary>An optimizer of parameter groups with their own options (a group without options takes <paramref name="defaults"/>).</summary>
    /// <param name="groups">The groups.</param>
    /// <param name="defaults">The options of groups created without any (null: AdaBelief's defaults).</param>
    /// <param name="config">Threads and SIMD level of a CPU optimizer (null: the defaults); the device is the parameters'.</param>
    /// <exception cref="ArgumentException">No parameters, a parameter that cannot be stepped or appears twice, or parameters on more than one device.</exception>
    /// <exception cref="ArgumentOutOfRangeException">An option is invalid.</exception>
    public NativeAdaBeliefOptimizer(IEnumerable<AdaBeliefParamGroup> groups, AdaBeliefOptions? defaults = null, OptimizerConfig? config = null)
    {
        ArgumentNullException.ThrowIfNull(groups);
        List<AdaBeliefParamGroup> list = [.. groups];
        foreach (AdaBeliefParamGroup group in list)
        {
            ArgumentNullException.ThrowIfNull(group, nameof(groups));
            group.Parameters = group.Parameters.ToList();
        }
        _defaults = new AdaBeliefGroupOptions(defaults ?? new AdaBeliefOptions());
        _parameter_groups = new List<ParamGroup>();
        Parameter first = list.SelectMany(g => g.Parameters).FirstOrDefault()
            ?? throw new ArgumentException("The optimizer got no parameters: pass module.parameters() (or groups that hold some).", nameof(groups));
        _device = first.device;
        _core = new AdaBeliefOptimizer(TorchDevices.ConfigFor(_device, config, nameof(config)));
        try
        {
            foreach (AdaBeliefParamGroup group in list)
            {
                add_param_group(group);
            }
        }
        catch
        {
            _core.Dispose();
            throw;
        }
    }

    /// <summary>Where the native optimizer keeps its state and runs its step: the parameters' device.</summary>
    public NativeAdaBelief.DeviceType Device => _core.Device;

    /// <summary>The number of worker threads a CPU step uses (see <see cref="AdaBeliefOptimizer.ThreadCount"/>).</summary>
    /// <exception cref="ArgumentOutOfRangeException">Set to a negative value or one above <see cref="OptimizerConfig.MaxThreadCount"/>.</exception>
    public int ThreadCount
    {
        get => _core.ThreadCount;
        set => _core.ThreadCount = value;
    }

    /// <summary>
    /// What every later step does to the gradients before the update: the inverse loss scale,
    /// skipping steps with non-finite gradients, clipping by the global norm (see
    /// <see cref="NativeAdaBelief.StepOptions"/>).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">Set to invalid options (nothing is changed).</exception>
    public StepOptions StepOptions
    {
        get => _core.StepOptions;
        set => _core.StepOptions = value;
    }

    /// <summary>The options of groups added without any, and what <see cref="Betas"/> of the optimizer reads and sets.</summary>
    public AdaBeliefGroupOptions Defaults => (AdaBeliefGroupOptions)_defaults;

    /// <summary>(β₁, β₂) of the defaults (each group has its own: <see cref="AdaBeliefParamGroup.Betas"/>).</summary>
    /// <exception cref="ArgumentOutOfRangeException">Set to a β outside [0, 1).</exception>
    public (double, double) Betas
    {
        get => (Defaults.AdaBelief.Beta1, Defaults.AdaBelief.Beta2);
        set => Defaults.AdaBelief = Defaults.AdaBelief with { Beta1 = value.Item1, Beta2 = value.Item2 };
    }

    /// <summary>
    /// Adds a group (also after steps were taken, e.g. layers unfrozen while fine-tuning): an
    /// <see cref="AdaBeliefParamGroup"/>; one without options takes <see cref="Defaults"/>.
    /// Every parameter is checked before anything is registered.
    /// </summary>
    /// <param name="param_group">The group.</param>
    /// <exception cref="ArgumentException">Another kind of group, a parameter that cannot be stepped, is on another device, or is already in a group.</exception>
    public override void add_param_group(ParamGroup param_group)
    {
        if (param_group is not AdaBeliefParamGroup group)
        {
            throw new ArgumentException(
                $"A {param_group?.GetType().FullName ?? "null"} cannot be added to a NativeAdaBeliefOptimizer: add an AdaBeliefParamGroup.",
                nameof(param_group));
        }
        List<Parameter> parameters = [.. group.Parameters];
        group.Parameters = parameters;
        int groupIndex = _parameter_groups.Count;
        var seen = new HashSet<nint>(_bindings.Select(b => b.ParameterAddress));
        for (int i = 0; i < parameters.Count; i++)
        {
            string name = $"parameter {i} of group {groupIndex}";
            Parameter p = parameters[i] ?? throw new ArgumentNullException(nameof(param_group), $"{name} is null.");
            TorchTensors.CheckSteppable(p, name, nameof(param_group));
            if (!TorchDevices.Same(p.device, _device))
            {
                throw new ArgumentException(
                    $"{name} is on {p.device} but the optimizer's parameters are on {_device}: one optimizer steps the parameters of one device.",
                    nameof(param_group));
            }
            if (!seen.Add(TorchTensors.AddressOf(p, name, nameof(param_group))))
            {
                throw new ArgumentException($"{name} ({TorchTensors.Describe(p)}) appears more than once among the optimizer's parameters.",
                    nameof(param_group));
            }
        }

        group.Options ??= new AdaBeliefGroupOptions(Defaults.AdaBelief) { InitialLearningRate = Defaults.InitialLearningRate };
        AdaBeliefOptions settings = group.Options.AdaBelief;
        ParameterGroup native = _core.AddParamGroup(settings);
        var gradients = new List<nint>(_gradients);
        foreach ((Parameter p, int i) in parameters.Select((p, i) => (p, i)))
        {
            var binding = ParameterBinding.Register(native, p, $"parameter {i} of group {groupIndex}", _device, nameof(param_group),
                out nint gradient);
            _state[p.Handle] = new AdaBeliefParameterState(binding, this, _bindings.Count, stagedLoad: null);
            _bindings.Add(binding);
            gradients.Add(gradient);
        }
        _gradients = [.. gradients];
        _reading = new nint[_bindings.Count];
        _parameter_groups.Add(group);
        _pushed.Add((group.Options, group.Options.Settings, settings.LearningRate));
    }

    /// <summary>
    /// One optimizer step: runs <paramref name="closure"/> first (with gradients enabled) when
    /// given, hands changed options and learning rates to the native library, finds every
    /// parameter's gradient, and updates every parameter that has one in one native call.
    /// </summary>
    /// <param name="closure">Re-evaluates the model and returns the loss (optional).</param>
    /// <returns>The closure's loss, or null without a closure.</returns>
    /// <exception cref="ArgumentException">A gradient that cannot be stepped (nothing was changed).</exception>
    /// <exception cref="ArgumentOutOfRangeException">A group's learning rate or options are invalid (nothing was stepped).</exception>
    public override Tensor step(Func<Tensor>? closure = null)
    {
        Tensor? loss = null;
        if (closure is not null)
        {
            using (torch.enable_grad())
            {
                loss = closure();
            }
        }
        PushOptions();
        SyncAddresses();
        _core.Step();
        return loss!;
    }

    /// <summary>Sets every parameter's gradient to zero in place, in one native call (a gradient that is None stays None).</summary>
    /// <exception cref="ArgumentException">A gradient that cannot be stepped.</exception>
    public override void zero_grad()
    {
        SyncAddresses();
        _core.ZeroGrad();
    }

    /// <summary>
    /// The optimizer's state as TorchSharp's state dictionary: an <see cref="AdaBeliefGroupOptions"/>
    /// per group (a copy) and an <see cref="AdaBeliefParameterState"/> per parameter (it reads the
    /// native state when read or saved). Loading the entries of one dictionary stages them, and the
    /// optimizer takes them together, all or nothing, once every entry has been loaded (TorchSharp's
    /// <c>load_state_dict(path)</c> loads every entry of the dictionary this method returns).
    /// </summary>
    /// <returns>The state dictionary.</returns>
    public override StateDictionary state_dict()
    {
        PushOptions();
        StateDictionary dict = base.state_dict();
        var load = new StagedLoad(this, _parameter_groups.Count, _bindings.Count);
        for (int g = 0; g < dict.Options.Count; g++)
        {
            var options = (AdaBeliefGroupOptions)_parameter_groups[g].Options;
            dict.Options[g] = new AdaBeliefGroupOptions(options.AdaBelief)
            {
                InitialLearningRate = options.InitialLearningRate,
                StagedLoad = load,
                GroupIndex = g,
            };
        }
        for (int t = 0; t < dict.State.Count; t++)
        {
            dict.State[t] = new AdaBeliefParameterState(_bindings[t], this, t, load);
        }
        return dict;
    }

    /// <summary>
    /// Takes the whole state of <paramref name="state_dict"/> (from <see cref="state_dict"/> of
    /// this or another NativeAdaBeliefOptimizer with the same groups and parameter sizes), all or
    /// nothing.
    /// </summary>
    /// <param name="state_dict">The state dictionary.</param>
    /// <exception cref="ArgumentException">Other counts, sizes or kinds of entries, or values the native library refuses; nothing is changed.</exception>
    public override void load_state_dict(StateDictionary state_dict)
    {
        ArgumentNullException.ThrowIfNull(state_dict);
        if (state_dict.Options.Count != _parameter_groups.Count || state_dict.State.Count != _bindings.Count)
        {
            throw new ArgumentException(
                $"The state dictionary has {state_dict.Options.Count} groups and {state_dict.State.Count} parameters; this optimizer has "
                + $"{_parameter_groups.Count} and {_bindings.Count}.", nameof(state_dict));
        }
        var groups = state_dict.Options.Select(o => o is AdaBeliefGroupOptions a
            ? (a.AdaBelief, a.InitialLearningRate)
            : throw new ArgumentException($"A {o?.GetType().FullName ?? "null"} cannot be loaded into NativeAdaBelief options.", nameof(state_dict)))
            .ToArray();
        StagedLoad.TensorState[] tensors = [.. state_dict.State.Select(s => AdaBeliefParameterState.From(s).Current())];
        Restore(groups, tensors);
    }

    /// <summary>
    /// Saves the whole state in NativeAdaBelief's safetensors checkpoint format (atomically; see
    /// <see cref="AdaBeliefOptimizer.SaveCheckpoint(string)"/>): the same file the core API writes,
    /// so it loads into an <see cref="AdaBeliefOptimizer"/> with the same groups and tensor sizes and back.
    /// </summary>
    /// <param name="path">The file to create or replace.</param>
    public void SaveCheckpoint(string path)
    {
        PushOptions();
        _core.SaveCheckpoint(path);
    }

    /// <summary>Saves the checkpoint to a stream (see <see cref="SaveCheckpoint(string)"/>).</summary>
    /// <param name="stream">A writable stream; written from its current position, not closed.</param>
    public void SaveCheckpoint(Stream stream)
    {
        PushOptions();
        _core.SaveCheckpoint(stream);
    }

    /// <summary>
    /// Restores a checkpoint written by <see cref="SaveCheckpoint(string)"/> or by the core API, all
    /// or nothing (see <see cref="AdaBeliefOptimizer.LoadCheckpoint(Stream)"/>); the groups' options
    /// and learning rates become the checkpoint's.
    /// </summary>
    /// <param name="path">The checkpoint file.</param>
    /// <exception cref="InvalidDataException">The checkpoint is malformed, corrupted, or does not match this optimizer.</exception>
    public void LoadCheckpoint(string path)
    {
        _core.LoadCheckpoint(path);
        PullOptions();
    }

    /// <summary>Restores a checkpoint from a stream (see <see cref="LoadCheckpoint(string)"/>).</summary>
    /// <param name="stream">A readable stream positioned at the checkpoint's first byte.</param>
    /// <exception cref="InvalidDataException">The checkpoint is malformed, corrupted, or does not match this optimizer.</exception>
    public void LoadCheckpoint(Stream stream)
    {
        _core.LoadCheckpoint(stream);
        PullOptions();
    }

    /// <summary>What the last step did with the gradients (see <see cref="AdaBeliefOptimizer.GetLastStepReport"/>).</summary>
    /// <returns>The report.</returns>
    public StepReport GetLastStepReport() => _core.GetLastStepReport();

    /// <summary>Counts the NaN and infinite elements of the current gradients, in one native pass.</summary>
    /// <returns>The count; 0 when every gradient is finite.</returns>
    public long CountNonFiniteGradients()
    {
        SyncAddresses();
        return _core.CountNonFiniteGradients();
    }

    /// <summary>Waits for the steps a CUDA optimizer queued (returns at once on the CPU).</summary>
    public void Synchronize() => _core.Synchronize();

    /// <summary>Frees the native optimizer (TorchSharp's <c>Dispose()</c> calls this).</summary>
    /// <param name="disposing">True from <c>Dispose()</c>, false from the finalizer.</param>
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _core.Dispose();
        }
        base.Dispose(disposing);
    }

    /// <summary>The native optimizer (for tests and the benchmark; its tensors are in registration order).</summary>
    internal AdaBeliefOptimizer Core => _core;

    /// <summary>Takes every group's options and every parameter's state together, all or nothing.</summary>
    internal void Restore((AdaBeliefOptions Options, double InitialLearningRate)[] groups, StagedLoad.TensorState[] tensors)
    {
        using (StateRestore restore = _core.BeginRestore())
        {
            for (int g = 0; g < groups.Length; g++)
            {
                restore.StageGroup(_core.ParamGroups[g], groups[g].Options);
            }
            for (int t = 0; t < tensors.Length; t++)
            {
                StagedLoad.TensorState s = tensors[t];
                restore.StageTensor(_core.Tensors[t], s.Step, s.FirstMoment, s.SecondMoment, s.MaxSecondMoment, s.MasterParameters,
                    s.Encoding);
            }
            restore.Commit();
        }
        for (int g = 0; g < groups.Length; g++)
        {
            var options = (AdaBeliefGroupOptions)_parameter_groups[g].Options;
            options.Assign(groups[g].Options, groups[g].InitialLearningRate);
            _pushed[g] = (options, options.Settings, groups[g].Options.LearningRate);
        }
    }

    /// <summary>Takes one parameter's state (every other one and every group's options restaged as they are).</summary>
    internal void Restore(int index, StagedLoad.TensorState state)
    {
        PushOptions();
        var groups = _parameter_groups.Select(g => (((AdaBeliefGroupOptions)g.Options).AdaBelief, g.InitialLearningRate)).ToArray();
        StagedLoad.TensorState[] tensors = [.. _bindings.Select((b, t) => t == index ? state : ((AdaBeliefParameterState)_state[b.Parameter.Handle]).Current())];
        Restore(groups, tensors);
    }

    /// <summary>Hands options and learning rates changed since the last step to the native library.</summary>
    private void PushOptions()
    {
        for (int g = 0; g < _parameter_groups.Count; g++)
        {
            var options = (AdaBeliefGroupOptions)_parameter_groups[g].Options;
            (AdaBeliefGroupOptions pushedOptions, AdaBeliefOptions pushedSettings, double pushedRate) = _pushed[g];
            double rate = options.LearningRate ?? throw new ArgumentOutOfRangeException($"ParamGroups[{g}].LearningRate", null,
                $"Group {g}'s learning rate is null: set it to a number.");
            if (ReferenceEquals(options, pushedOptions) && ReferenceEquals(options.Settings, pushedSettings) && rate == pushedRate)
            {
                continue;
            }
            try
            {
                if (ReferenceEquals(options, pushedOptions) && ReferenceEquals(options.Settings, pushedSettings))
                {
                    _core.ParamGroups[g].LearningRate = rate;
                }
                else
                {
                    _core.ParamGroups[g].Options = options.AdaBelief;
                }
            }
            catch (ArgumentOutOfRangeException e)
            {
                throw new ArgumentOutOfRangeException($"ParamGroups[{g}].{e.ParamName}", e.ActualValue, $"Group {g}: {e.Message}");
            }
            _pushed[g] = (options, options.Settings, rate);
        }
    }

    /// <summary>Makes the groups' options the native library's (after a checkpoint load).</summary>
    private void PullOptions()
    {
        for (int g = 0; g < _parameter_groups.Count; g++)
        {
            var options = (AdaBeliefGroupOptions)_parameter_groups[g].Options;
            AdaBeliefOptions native = _core.ParamGroups[g].Options;
            options.Assign(native, options.InitialLearningRate);
            _pushed[g] = (options, options.Settings, native.LearningRate);
        }
    }

    /// <summary>
    /// Reads every parameter's and gradient's address, checks what changed, and only then registers
    /// the changes (moved parameters one by one, the gradients in one native call).
    /// </summary>
    internal void SyncAddresses()
    {
        bool changed = false;
        List<(ParameterBinding Binding, nint Address)>? moved = null;
        for (int i = 0; i < _bindings.Count; i++)
        {
            ParameterBinding binding = _bindings[i];
            nint parameter = binding.ReadParameter();
            if (parameter != binding.ParameterAddress)
            {
                (moved ??= []).Add((binding, parameter));
            }
            _reading[i] = binding.ReadGradient(_gradients[i]);
            changed |= _reading[i] != _gradients[i];
        }
        foreach ((ParameterBinding binding, nint address) in moved ?? [])
        {
            binding.MoveParameters(address);
        }
        if (changed)
        {
            _core.SetGradients(_reading);
            (_gradients, _reading) = (_reading, _gradients);
        }
    }
}
