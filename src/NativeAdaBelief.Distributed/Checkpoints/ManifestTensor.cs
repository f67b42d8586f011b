namespace NativeAdaBelief.Distributed;

/// <summary>One tensor as a manifest records it.</summary>
internal readonly record struct ManifestTensor(long Length, TensorElementType ParameterType, bool MasterCopy, int Group)
{
    internal static ManifestTensor Of(SpaceTensor tensor) =>
        new(tensor.Length, tensor.ParameterType, tensor.Spec.KeepMasterCopy, tensor.Spec.Group);

    public override string ToString() =>
        $"{Length} elements of {ParameterType}, {(MasterCopy ? "a master copy" : "no master copy")}, group {Group}";
}
