namespace NativeAdaBelief;

/// <summary>A checkpoint's <c>__metadata__</c> map, with the lookups every check shares.</summary>
internal sealed class CheckpointMetadata(Dictionary<string, string> values)
{
    /// <summary>Every key and value as the file holds them.</summary>
    internal Dictionary<string, string> Values { get; } = values;

    /// <summary>The value of <paramref name="key"/>, or <see cref="InvalidDataException"/> saying it is missing.</summary>
    internal string Required(string key) => Values.TryGetValue(key, out string? value)
        ? value
        : throw new InvalidDataException($"The checkpoint's metadata lacks '{key}'.");

    /// <summary>A non-negative decimal integer under <paramref name="key"/>.</summary>
    internal long Count(string key)
    {
        string text = Required(key);
        return CheckpointFormat.TryParseCount(text, out long value)
            ? value
            : throw new InvalidDataException($"Metadata '{key}' must be a non-negative decimal integer, not '{text}'.");
    }

    /// <summary>"true" or "false" under <paramref name="key"/>.</summary>
    internal bool Flag(string key)
    {
        string text = Required(key);
        return text switch
        {
            "true" => true,
            "false" => false,
            _ => throw new InvalidDataException($"Metadata '{key}' must be 'true' or 'false', not '{text}'."),
        };
    }

    /// <summary>A safetensors element type name (F32, F16, BF16) under <paramref name="key"/>.</summary>
    internal TensorElementType ElementType(string key)
    {
        string text = Required(key);
        return ElementTypes.TryParseSafetensorsName(text, out TensorElementType type)
            ? type
            : throw new InvalidDataException($"Metadata '{key}' must be one of F32, F16 or BF16, not '{text}'.");
    }
}
