using System.Text.Json;

namespace NativeAdaBelief;

/// <summary>One tensor entry of a safetensors header.</summary>
internal sealed record CheckpointEntry(string Name, string DType, long[] Shape, long Begin, long End);

/// <summary>
/// The parsed, structurally checked JSON header of a safetensors file: the string→string
/// <c>__metadata__</c> map and the tensor entries. Anything malformed throws
/// <see cref="InvalidDataException"/> naming what is wrong.
/// </summary>
internal sealed class CheckpointHeader
{
    private CheckpointHeader(Dictionary<string, string> metadata, Dictionary<string, CheckpointEntry> entries)
    {
        Metadata = metadata;
        Entries = entries;
    }

    internal Dictionary<string, string> Metadata { get; }

    internal Dictionary<string, CheckpointEntry> Entries { get; }

    internal static CheckpointHeader Parse(ReadOnlyMemory<byte> json)
    {
        if (!System.Text.Unicode.Utf8.IsValid(json.Span))
        {
            throw new InvalidDataException("The checkpoint header is not valid UTF-8.");
        }
        try
        {
            return ParseValidUtf8(json);
        }
        catch (InvalidOperationException e)
        {
            // e.g. a string escape that decodes to a lone surrogate
            throw new InvalidDataException($"The checkpoint header holds an invalid string: {e.Message}", e);
        }
    }

    private static CheckpointHeader ParseValidUtf8(ReadOnlyMemory<byte> json)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json, new JsonDocumentOptions { MaxDepth = 8 });
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"The checkpoint header is not valid JSON: {e.Message}", e);
        }

        using (document)
        {
            JsonElement root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw new InvalidDataException($"The checkpoint header must be a JSON object, not {root.ValueKind}.");
            }

            Dictionary<string, string>? metadata = null;
            var entries = new Dictionary<string, CheckpointEntry>(StringComparer.Ordinal);
            foreach (JsonProperty property in root.EnumerateObject())
            {
                if (property.Name == CheckpointFormat.MetadataEntry)
                {
                    if (metadata is not null)
                    {
                        throw new InvalidDataException($"The checkpoint header has '{CheckpointFormat.MetadataEntry}' twice.");
                    }
                    metadata = ParseMetadata(property.Value);
                }
                else
                {
                    if (entries.ContainsKey(property.Name))
                    {
                        throw new InvalidDataException($"The checkpoint header has the tensor '{property.Name}' twice.");
                    }
                    entries.Add(property.Name, ParseEntry(property.Name, property.Value));
                }
            }
            if (metadata is null)
            {
                throw new InvalidDataException($"The checkpoint header has no '{CheckpointFormat.MetadataEntry}': this is not a NativeAdaBelief checkpoint.");
            }
            return new CheckpointHeader(metadata, entries);
        }
    }

    private static Dictionary<string, string> ParseMetadata(JsonElement element)
    {
        if (element.ValueKind != JsonValueKind.Object)
        {
            throw new InvalidDataException($"'{CheckpointFormat.MetadataEntry}' must be a JSON object of strings, not {element.ValueKind}.");
        }
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (JsonProperty p in element.EnumerateObject())
        {
            if (p.Value.ValueKind != JsonValueKind.String)
            {
                throw new InvalidDataException($"Metadata value '{p.Name}' must be a string (safetensors metadata maps strings to strings), not {p.Value.ValueKind}.");
            }
            if (!metadata.TryAdd(p.Name, p.Value.GetString()!))
            {
                throw new InvalidDataException($"Metadata key '{p.Name}' appears twice.");
            }
        }
        return metadata;
    }

    private static CheckpointEntry ParseEntry(string name, JsonElement element)
    {
        if (element.ValueKind != JsonValueKind.Object)
        {
            throw new InvalidDataException($"Tensor '{name}' must be a JSON object, not {element.ValueKind}.");
        }
        string? dtype = null;
        long[]? shape = null;
        long[]? offsets = null;
        foreach (JsonProperty p in element.EnumerateObject())
        {
            switch (p.Name)
            {
                case "dtype" when dtype is null:
                    dtype = p.Value.ValueKind == JsonValueKind.String
                        ? p.Value.GetString()
                        : throw new InvalidDataException($"Tensor '{name}': dtype must be a string, not {p.Value.GetRawText()}.");
                    break;
                case "shape" when shape is null:
                    shape = Integers(name, "shape", p.Value, MaxDimensions);
                    break;
                case "data_offsets" when offsets is null:
                    offsets = Integers(name, "data_offsets", p.Value, 2);
                    break;
                default:
                    throw new InvalidDataException($"Tensor '{name}' has an unexpected or repeated field '{p.Name}' (expected dtype, shape and data_offsets once each).");
            }
        }
        if (dtype is null || shape is null || offsets is null)
        {
            throw new InvalidDataException($"Tensor '{name}' lacks {(dtype is null ? "dtype" : shape is null ? "shape" : "data_offsets")}.");
        }
        if (offsets.Length != 2 || offsets[0] > offsets[1])
        {
            throw new InvalidDataException($"Tensor '{name}': data_offsets must be [begin, end] with begin <= end, not [{string.Join(", ", offsets)}].");
        }
        return new CheckpointEntry(name, dtype, shape, offsets[0], offsets[1]);
    }

    /// <summary>The most dimensions a tensor entry may declare (a checkpoint's are 1-dimensional).</summary>
    private const int MaxDimensions = 8;

    /// <summary>An array of at most <paramref name="most"/> non-negative integers, checked before anything is allocated for it.</summary>
    private static long[] Integers(string name, string field, JsonElement element, int most)
    {
        if (element.ValueKind != JsonValueKind.Array)
        {
            throw new InvalidDataException($"Tensor '{name}': {field} must be an array of integers, not {element.GetRawText()}.");
        }
        int length = element.GetArrayLength();
        if (length > most)
        {
            throw new InvalidDataException($"Tensor '{name}': {field} has {length} values; at most {most} are allowed.");
        }
        var values = new long[length];
        int i = 0;
        foreach (JsonElement item in element.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.Number || !item.TryGetInt64(out long value) || value < 0)
            {
                throw new InvalidDataException($"Tensor '{name}': {field} must hold non-negative integers, not {item.GetRawText()}.");
            }
            values[i++] = value;
        }
        return values;
    }
}
