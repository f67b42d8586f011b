using System.Buffers.Binary;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace NativeAdaBelief;

/// <summary>
/// The names, keys and encodings of the checkpoint format (docs/checkpoint-format.md): a
/// safetensors file whose <c>__metadata__</c> carries the optimizer's options, step counts,
/// element types and two SHA-256 checksums, and whose tensors are the per-tensor state arrays.
/// </summary>
internal static class CheckpointFormat
{
    internal const string FormatName = "native-adabelief.optimizer";

    /// <summary>
    /// The newest version this library writes and reads: 2 added the element types and master
    /// copies, 3 the state encodings (8-bit codes and scales), 4 the training state
    /// (<see cref="TrainingState"/>: schedules, loss scaler, global step, user metadata). A
    /// checkpoint is written with the oldest version that holds it: version 2 for float32 state
    /// alone, 3 with 8-bit state, 4 with a training state, so earlier readers read what they can.
    /// </summary>
    internal const int FormatVersion = 4;

    /// <summary>The version of a checkpoint with 8-bit state and no training state.</summary>
    internal const int EightBitStateFormatVersion = 3;

    /// <summary>The version of a checkpoint with a training state.</summary>
    internal const int TrainingStateFormatVersion = 4;

    /// <summary>The version of a checkpoint without 8-bit state.</summary>
    internal const int Float32StateFormatVersion = 2;

    /// <summary>The oldest version this library reads (1: float32 tensors only, no element-type keys).</summary>
    internal const int OldestReadableFormatVersion = 1;

    internal const string MetadataEntry = "__metadata__";
    internal const string DType = "F32";
    internal const string CodesDType = "U8";

    /// <summary>
    /// The largest header a save writes and a load accepts (the limit safetensors itself uses, so
    /// every safetensors reader can open what this library writes).
    /// </summary>
    internal const long MaxHeaderBytes = 100_000_000;

    internal const string KeyFormat = "format";
    internal const string KeyFormatVersion = "format_version";
    internal const string KeyLibraryVersion = "library_version";
    internal const string KeyGroupCount = "group_count";
    internal const string KeyTensorCount = "tensor_count";
    internal const string KeyCompatibility = "compatibility";
    internal const string KeyDataSha256 = "data_sha256";
    internal const string KeyMetadataSha256 = "metadata_sha256";

    internal static string GroupOptionsKey(int group) => $"group.{group}.options";
    internal static string TensorGroupKey(int tensor) => $"tensor.{tensor}.group";
    internal static string TensorStepKey(int tensor) => $"tensor.{tensor}.step";
    internal static string TensorElementCountKey(int tensor) => $"tensor.{tensor}.element_count";

    // Since format version 2.
    internal static string TensorParameterTypeKey(int tensor) => $"tensor.{tensor}.parameter_dtype";
    internal static string TensorGradientTypeKey(int tensor) => $"tensor.{tensor}.gradient_dtype";
    internal static string TensorMasterParametersKey(int tensor) => $"tensor.{tensor}.master_parameters";

    // Since format version 3.
    internal static string TensorStateEncodingKey(int tensor) => $"tensor.{tensor}.state_encoding";

    /// <summary>Format version 3: the names of the 8-bit formats of m, and of s and s_max (<see cref="EightBitState.FormatName"/>).</summary>
    internal const string KeyFirstMomentFormat = "state_format.m";
    internal const string KeySecondMomentFormat = "state_format.s";

    /// <summary>How many metadata keys each tensor has in a file of <paramref name="version"/>.</summary>
    internal static int KeysPerTensor(int version) => version >= 3 ? 7 : version >= 2 ? 6 : 3;

    /// <summary>How many metadata keys a file of <paramref name="version"/> has besides the groups' and tensors'.</summary>
    internal static int GlobalKeys(int version) => version >= 3 ? 10 : 8;

    /// <summary>The value of <see cref="TensorStateEncodingKey"/>.</summary>
    internal static string StateEncodingName(StateEncoding encoding) => encoding switch
    {
        StateEncoding.Float32 => "float32",
        StateEncoding.Blockwise8Bit => "blockwise_8bit",
        _ => throw new ArgumentOutOfRangeException(nameof(encoding), encoding, null),
    };

    /// <summary>Whether <c>tensor.{t}.{name}</c> is a tensor key of a file of <paramref name="version"/>.</summary>
    internal static bool IsTensorKeyName(string name, int version) =>
        name is "group" or "step" or "element_count"
        || (version >= 2 && name is "parameter_dtype" or "gradient_dtype" or "master_parameters")
        || (version >= 3 && name is "state_encoding");

    internal static string BooleanText(bool value) => value ? "true" : "false";

    /// <summary>The safetensors entry name of one state array, e.g. <c>tensor.3.s_max</c>, or of its codes or scales (<c>tensor.3.s_max.codes</c>).</summary>
    internal static string StateName(int tensor, StateKind kind, StatePart part = StatePart.Values) => part switch
    {
        StatePart.Codes => $"tensor.{tensor}.{StateSuffix(kind)}.codes",
        StatePart.Scales => $"tensor.{tensor}.{StateSuffix(kind)}.scales",
        _ => $"tensor.{tensor}.{StateSuffix(kind)}",
    };

    internal static string StateName(CheckpointSlot slot) => StateName(slot.Tensor, slot.Kind, slot.Part);

    internal static string StateSuffix(StateKind kind) => kind switch
    {
        StateKind.FirstMoment => "m",
        StateKind.SecondMoment => "s",
        StateKind.MaxSecondMoment => "s_max",
        StateKind.MasterParameters => "master",
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, null),
    };

    internal static string Invariant(long value) => value.ToString(CultureInfo.InvariantCulture);

    /// <summary>Parses a non-negative decimal integer with no sign, spaces or separators.</summary>
    internal static bool TryParseCount(string? text, out long value) =>
        long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out value);

    /// <summary>
    /// SHA-256 over the metadata, excluding <see cref="KeyMetadataSha256"/> itself: for each key
    /// in ordinal order, the UTF-8 key and value, each preceded by its byte length as a 4-byte
    /// little-endian integer. It covers <see cref="KeyDataSha256"/>, so it protects the data too.
    /// </summary>
    internal static string MetadataSha256(IReadOnlyDictionary<string, string> metadata)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        Span<byte> length = stackalloc byte[4];
        foreach (string key in metadata.Keys.Where(k => k != KeyMetadataSha256).Order(StringComparer.Ordinal))
        {
            foreach (string part in new[] { key, metadata[key] })
            {
                byte[] bytes = Encoding.UTF8.GetBytes(part);
                BinaryPrimitives.WriteInt32LittleEndian(length, bytes.Length);
                hash.AppendData(length);
                hash.AppendData(bytes);
            }
        }
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    // ---- Options as JSON (the value of group.{g}.options). ----

    private static string Name(CompatibilityMode mode) => mode switch
    {
        CompatibilityMode.Labml => "labml",
        CompatibilityMode.AdaBeliefPytorch => "adabelief_pytorch",
        _ => throw new ArgumentOutOfRangeException(nameof(mode), mode, null),
    };

    private static string Name(WeightDecayMode mode) => mode switch
    {
        WeightDecayMode.Decoupled => "decoupled",
        WeightDecayMode.Absolute => "absolute",
        WeightDecayMode.L2 => "l2",
        _ => throw new ArgumentOutOfRangeException(nameof(mode), mode, null),
    };

    private static string Name(SecondMoment moment) => moment switch
    {
        SecondMoment.Belief => "belief",
        SecondMoment.Square => "square",
        _ => throw new ArgumentOutOfRangeException(nameof(moment), moment, null),
    };

    internal static string CompatibilityName(CompatibilityMode mode) => Name(mode);

    internal static string OptionsToJson(AdaBeliefOptions o)
    {
        var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("compatibility", Name(o.Compatibility));
            w.WriteNumber("learning_rate", o.LearningRate);
            w.WriteNumber("beta1", o.Beta1);
            w.WriteNumber("beta2", o.Beta2);
            w.WriteNumber("epsilon", o.Epsilon);
            w.WriteNumber("weight_decay", o.WeightDecay);
            w.WriteString("weight_decay_mode", Name(o.WeightDecayMode));
            w.WriteString("second_moment", Name(o.SecondMoment));
            w.WriteBoolean("amsgrad", o.AmsGrad);
            w.WriteBoolean("rectify", o.Rectify);
            w.WriteBoolean("degenerate_to_sgd", o.DegenerateToSgd);
            w.WriteBoolean("optimized_update", o.OptimizedUpdate);
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
    }

    private static readonly string[] s_optionNames =
    [
        "compatibility", "learning_rate", "beta1", "beta2", "epsilon", "weight_decay", "weight_decay_mode",
        "second_moment", "amsgrad", "rectify", "degenerate_to_sgd", "optimized_update",
    ];

    /// <summary>Parses and validates one group's options; throws <see cref="InvalidDataException"/> saying what is wrong.</summary>
    internal static AdaBeliefOptions OptionsFromJson(string json, string where)
    {
        try
        {
            return ParseOptions(json, where);
        }
        catch (InvalidOperationException e)
        {
            // A name or string whose escape decodes to a lone surrogate ("\ud800") parses as JSON
            // but cannot be read as a string (found by CheckpointFuzzTests).
            throw new InvalidDataException($"{where} holds an invalid string: {e.Message}", e);
        }
    }

    private static AdaBeliefOptions ParseOptions(string json, string where)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json, new JsonDocumentOptions { MaxDepth = 4 });
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{where} is not valid JSON: {e.Message}", e);
        }
        using (document)
        {
            JsonElement root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw new InvalidDataException($"{where} must be a JSON object, not {root.ValueKind}.");
            }
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (JsonProperty p in root.EnumerateObject())
            {
                if (!seen.Add(p.Name))
                {
                    throw new InvalidDataException($"{where} has the option '{p.Name}' twice.");
                }
                if (!s_optionNames.Contains(p.Name))
                {
                    throw new InvalidDataException($"{where} has an unknown option '{p.Name}'.");
                }
            }
            foreach (string name in s_optionNames)
            {
                if (!seen.Contains(name))
                {
                    throw new InvalidDataException($"{where} lacks the option '{name}'.");
                }
            }

            AdaBeliefOptions options;
            try
            {
                options = new AdaBeliefOptions
                {
                    Compatibility = Enum(root, "compatibility", where, [("labml", CompatibilityMode.Labml), ("adabelief_pytorch", CompatibilityMode.AdaBeliefPytorch)]),
                    LearningRate = Number(root, "learning_rate", where),
                    Beta1 = Number(root, "beta1", where),
                    Beta2 = Number(root, "beta2", where),
                    Epsilon = Number(root, "epsilon", where),
                    WeightDecay = Number(root, "weight_decay", where),
                    WeightDecayMode = Enum(root, "weight_decay_mode", where, [("decoupled", WeightDecayMode.Decoupled), ("absolute", WeightDecayMode.Absolute), ("l2", WeightDecayMode.L2)]),
                    SecondMoment = Enum(root, "second_moment", where, [("belief", SecondMoment.Belief), ("square", SecondMoment.Square)]),
                    AmsGrad = Boolean(root, "amsgrad", where),
                    Rectify = Boolean(root, "rectify", where),
                    DegenerateToSgd = Boolean(root, "degenerate_to_sgd", where),
                    OptimizedUpdate = Boolean(root, "optimized_update", where),
                };
                options.Validate();
            }
            catch (ArgumentOutOfRangeException e)
            {
                throw new InvalidDataException($"{where} holds invalid options: {e.Message}", e);
            }
            return options;
        }
    }

    private static double Number(JsonElement root, string name, string where)
    {
        JsonElement e = root.GetProperty(name);
        if (e.ValueKind != JsonValueKind.Number || !e.TryGetDouble(out double value))
        {
            throw new InvalidDataException($"{where}: option '{name}' must be a number, not {e.GetRawText()}.");
        }
        return value;
    }

    private static bool Boolean(JsonElement root, string name, string where)
    {
        JsonElement e = root.GetProperty(name);
        return e.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw new InvalidDataException($"{where}: option '{name}' must be true or false, not {e.GetRawText()}."),
        };
    }

    private static T Enum<T>(JsonElement root, string name, string where, (string Name, T Value)[] values)
    {
        JsonElement e = root.GetProperty(name);
        if (e.ValueKind == JsonValueKind.String)
        {
            string? text = e.GetString();
            foreach ((string n, T v) in values)
            {
                if (n == text)
                {
                    return v;
                }
            }
        }
        throw new InvalidDataException(
            $"{where}: option '{name}' must be one of {string.Join(", ", values.Select(v => '"' + v.Name + '"'))}, not {e.GetRawText()}.");
    }
}
