namespace NativeAdaBelief;

/// <summary>What a checkpoint holds for an optimizer's tensors, once checked against them.</summary>
/// <param name="Steps">Each tensor's step count.</param>
/// <param name="HasMax">Whether the checkpoint holds each tensor's s_max.</param>
/// <param name="Slots">Where every state array is in the data section.</param>
/// <param name="EntryNames">The safetensors entries those slots are (every other entry is unexpected).</param>
/// <param name="LargestTensor">The most elements of any tensor (at least 1).</param>
internal sealed record CheckpointTensorPlan(long[] Steps, bool[] HasMax, CheckpointSlot[] Slots, HashSet<string> EntryNames, long LargestTensor);

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

            foreach (StateKind kind in (StateKind[])[StateKind.FirstMoment, StateKind.SecondMoment, StateKind.MaxSecondMoment, StateKind.MasterParameters])
            {
                if (kind == StateKind.MasterParameters && !hasMaster)
                {
                    continue; // an entry there is refused below as unexpected
                }
                string name = CheckpointFormat.StateName(t, kind);
                if (!header.Entries.TryGetValue(name, out CheckpointEntry? entry))
                {
                    if (kind == StateKind.MaxSecondMoment)
                    {
                        continue; // s_max is optional
                    }
                    throw new InvalidDataException($"The checkpoint lacks the tensor '{name}'.");
                }
                expectedNames.Add(name);
                if (entry.DType != CheckpointFormat.DType)
                {
                    throw new InvalidDataException($"Tensor '{name}' has dtype '{entry.DType}'; expected '{CheckpointFormat.DType}'.");
                }
                if (entry.Shape.Length != 1 || entry.Shape[0] != tensor.Length)
                {
                    throw new InvalidDataException(
                        $"Tensor '{name}' has shape [{string.Join(", ", entry.Shape)}]; expected [{tensor.Length}] to match the registered tensor.");
                }
                if (entry.End - entry.Begin != tensor.Length * sizeof(float))
                {
                    throw new InvalidDataException(
                        $"Tensor '{name}' has data_offsets [{entry.Begin}, {entry.End}] ({entry.End - entry.Begin} bytes); {tensor.Length} F32 elements need {tensor.Length * sizeof(float)}.");
                }
                if (kind == StateKind.MaxSecondMoment)
                {
                    hasMax[t] = true;
                }
                slots.Add(new CheckpointSlot(t, kind, entry.Begin, tensor.Length));
            }
        }
        return new CheckpointTensorPlan(steps, hasMax, [.. slots], expectedNames, largest);
    }
}
