namespace NativeAdaBelief;

/// <summary>What a checkpoint holds for an optimizer's tensors, once checked against them.</summary>
/// <param name="Steps">Each tensor's step count.</param>
/// <param name="HasMax">Whether the checkpoint holds each tensor's s_max.</param>
/// <param name="Slots">Where every state array is in the data section.</param>
/// <param name="EntryNames">The safetensors entries those slots are (every other entry is unexpected).</param>
/// <param name="LargestTensor">The most elements of any tensor (at least 1).</param>
/// <param name="Encodings">How the checkpoint stores each tensor's m, s and s_max (float32 before format version 3).</param>
internal sealed record CheckpointTensorPlan(long[] Steps, bool[] HasMax, CheckpointSlot[] Slots, HashSet<string> EntryNames, long LargestTensor,
    StateEncoding[] Encodings);

/// <summary>
/// A checkpoint's tensors against an optimizer's: the same count, and per tensor its group,
/// size, element types and master copy, and a state entry of the right shape for every array it has.
/// </summary>
internal static class CheckpointTensors
{
    /// <summary>The plan for every tensor; throws <see cref="InvalidDataException"/> saying what is wrong.</summary>
    internal static CheckpointTensorPlan Read(CheckpointMetadata meta, CheckpointHeader header, int version, AdaBeliefOptimizer optimizer)
    {
        IReadOnlyList<OptimizerTensor> tensors = optimizer.Tensors;
        long tensorCount = meta.Count(CheckpointFormat.KeyTensorCount);
        if (tensorCount != tensors.Count)
        {
            throw new InvalidDataException(
                $"The checkpoint has {tensorCount} tensors but this optimizer has {tensors.Count} registered: it belongs to a differently built optimizer.");
        }
        var steps = new long[tensors.Count];
        var hasMax = new bool[tensors.Count];
        var encodings = new StateEncoding[tensors.Count];
        bool formatsChecked = false;
        var slots = new List<CheckpointSlot>();
        var expectedNames = new HashSet<string>(StringComparer.Ordinal);
        long largest = 1;
        for (int t = 0; t < tensors.Count; t++)
        {
            OptimizerTensor tensor = tensors[t];
            long group = meta.Count(CheckpointFormat.TensorGroupKey(t));
            if (group != tensor.Group.Id)
            {
                throw new InvalidDataException($"Tensor {t} belongs to group {group} in the checkpoint but to group {tensor.Group.Id} in this optimizer.");
            }
            long count = meta.Count(CheckpointFormat.TensorElementCountKey(t));
            if (count != tensor.Length)
            {
                throw new InvalidDataException($"Tensor {t} has {count} elements in the checkpoint but {tensor.Length} in this optimizer.");
            }
            steps[t] = meta.Count(CheckpointFormat.TensorStepKey(t));
            largest = Math.Max(largest, tensor.Length);

            // Element types and the master copy (format version 1 knew only float32 tensors).
            TensorElementType parameterType = TensorElementType.Float32, gradientType = TensorElementType.Float32;
            bool hasMaster = false;
            if (version >= 2)
            {
                parameterType = meta.ElementType(CheckpointFormat.TensorParameterTypeKey(t));
                gradientType = meta.ElementType(CheckpointFormat.TensorGradientTypeKey(t));
                hasMaster = meta.Flag(CheckpointFormat.TensorMasterParametersKey(t));
            }
            string fromVersion1 = version < 2 ? " (format version 1 holds only float32 tensors without master copies)" : "";
            TensorElementType actualParameterType = tensor.ParameterType, actualGradientType = tensor.GradientType;
            if (parameterType != actualParameterType)
            {
                throw new InvalidDataException(
                    $"Tensor {t} has {parameterType} parameters in the checkpoint but {actualParameterType} parameters in this optimizer{fromVersion1}: "
                    + "a checkpoint restores only into tensors of the same element types.");
            }
            if (gradientType != actualGradientType)
            {
                throw new InvalidDataException(
                    $"Tensor {t} has {gradientType} gradients in the checkpoint but {actualGradientType} gradients in this optimizer{fromVersion1}: "
                    + "a checkpoint restores only into tensors of the same element types.");
            }
            bool actualMaster = tensor.HasMasterParameters;
            if (hasMaster != actualMaster)
            {
                throw new InvalidDataException(
                    (hasMaster
                        ? $"Tensor {t} has a float32 master copy of its parameters in the checkpoint but none in this optimizer"
                        : $"Tensor {t} has no float32 master copy of its parameters in the checkpoint but has one in this optimizer")
                    + $"{fromVersion1}: register it with keepMasterCopy: {CheckpointFormat.BooleanText(hasMaster)}, as when the checkpoint was saved.");
            }

            // The state encoding (format version 3): 8-bit m, s and s_max are stored as codes and
            // scales, and load into a tensor of either encoding (decoded for float32 state).
            encodings[t] = version >= 3 ? StateEncodingOf(meta, t) : StateEncoding.Float32;
            if (encodings[t] == StateEncoding.Blockwise8Bit)
            {
                if (tensor.Length < EightBitState.MinElements)
                {
                    throw new InvalidDataException(
                        $"Tensor {t} has {tensor.Length} elements but 8-bit state in the checkpoint: only tensors of at least {EightBitState.MinElements} elements keep 8-bit state.");
                }
                if (!formatsChecked)
                {
                    CheckFormatNames(meta);
                    formatsChecked = true;
                }
            }

            foreach (StateKind kind in (StateKind[])[StateKind.FirstMoment, StateKind.SecondMoment, StateKind.MaxSecondMoment, StateKind.MasterParameters])
            {
                if (kind == StateKind.MasterParameters && !hasMaster)
                {
                    continue; // an entry there is refused below as unexpected
                }
                StatePart[] parts = encodings[t] == StateEncoding.Blockwise8Bit && kind != StateKind.MasterParameters
                    ? [StatePart.Codes, StatePart.Scales]
                    : [StatePart.Values];
                bool present = header.Entries.ContainsKey(CheckpointFormat.StateName(t, kind, parts[0]));
                if (!present && kind == StateKind.MaxSecondMoment)
                {
                    continue; // s_max is optional (its codes and scales together)
                }
                foreach (StatePart part in parts)
                {
                    slots.Add(Entry(header, t, kind, part, tensor.Length, expectedNames));
                }
                if (kind == StateKind.MaxSecondMoment)
                {
                    hasMax[t] = true;
                }
            }
        }
        return new CheckpointTensorPlan(steps, hasMax, [.. slots], expectedNames, largest, encodings);
    }

    /// <summary>The entry of one part of one state array, checked: its dtype, shape and byte length.</summary>
    private static CheckpointSlot Entry(CheckpointHeader header, int t, StateKind kind, StatePart part, long length, HashSet<string> expectedNames)
    {
        string name = CheckpointFormat.StateName(t, kind, part);
        if (!header.Entries.TryGetValue(name, out CheckpointEntry? entry))
        {
            throw new InvalidDataException($"The checkpoint lacks the tensor '{name}'.");
        }
        expectedNames.Add(name);
        string dtype = part == StatePart.Codes ? CheckpointFormat.CodesDType : CheckpointFormat.DType;
        long elements = part == StatePart.Scales ? EightBitState.BlockCount(length) : length;
        var slot = new CheckpointSlot(t, kind, part, entry.Begin, elements);
        if (entry.DType != dtype)
        {
            throw new InvalidDataException($"Tensor '{name}' has dtype '{entry.DType}'; expected '{dtype}'.");
        }
        if (entry.Shape.Length != 1 || entry.Shape[0] != elements)
        {
            throw new InvalidDataException(
                $"Tensor '{name}' has shape [{string.Join(", ", entry.Shape)}]; expected [{elements}] to match the registered tensor"
                + (part == StatePart.Scales ? $" ({length} elements in blocks of {EightBitState.BlockSize})." : "."));
        }
        if (entry.End - entry.Begin != slot.End - slot.Begin)
        {
            throw new InvalidDataException(
                $"Tensor '{name}' has data_offsets [{entry.Begin}, {entry.End}] ({entry.End - entry.Begin} bytes); {elements} {dtype} elements need {slot.End - slot.Begin}.");
        }
        return slot;
    }

    private static StateEncoding StateEncodingOf(CheckpointMetadata meta, int t)
    {
        string key = CheckpointFormat.TensorStateEncodingKey(t);
        string text = meta.Required(key);
        foreach (StateEncoding encoding in (StateEncoding[])[StateEncoding.Float32, StateEncoding.Blockwise8Bit])
        {
            if (text == CheckpointFormat.StateEncodingName(encoding))
            {
                return encoding;
            }
        }
        throw new InvalidDataException($"Metadata '{key}' must be 'float32' or 'blockwise_8bit', not '{text}'.");
    }

    /// <summary>8-bit codes are only meaningful in the format they were written in: its name must be this library's.</summary>
    private static void CheckFormatNames(CheckpointMetadata meta)
    {
        foreach ((string key, StateKind kind) in (ReadOnlySpan<(string, StateKind)>)[(CheckpointFormat.KeyFirstMomentFormat, StateKind.FirstMoment),
                     (CheckpointFormat.KeySecondMomentFormat, StateKind.SecondMoment)])
        {
            string written = meta.Required(key), ours = EightBitState.FormatName(kind);
            if (written != ours)
            {
                throw new InvalidDataException(
                    $"The checkpoint's 8-bit state uses the format '{written}' ({key}), which this library does not know (it uses '{ours}'): "
                    + "load it with the library version that wrote it and save it with float32 state, or load it there and convert.");
            }
        }
    }
}
