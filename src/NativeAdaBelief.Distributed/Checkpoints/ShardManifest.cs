using System.Globalization;
using System.Text.Json;

namespace NativeAdaBelief.Distributed;

/// <summary>
/// <c>distributed.json</c>, the manifest of a per-rank checkpoint (docs/distributed.md): the
/// model it belongs to (each tensor's length, parameter type, master copy and group; the group
/// count), the number of ranks that saved it, and for each rank its shard file and the pieces of
/// tensors that file holds, in the file's tensor order. Written last, atomically, so a folder
/// with a manifest holds a complete set; the shard files carry the set's id in their names.
/// </summary>
internal sealed class ShardManifest
{
    internal const string FileName = "distributed.json";
    private const string FormatName = "native-adabelief.distributed-checkpoint";
    private const int FormatVersion = 1;

    private ShardManifest(string id, int groupCount, ManifestTensor[] tensors, ManifestShard[] shards)
    {
        Id = id;
        GroupCount = groupCount;
        Tensors = tensors;
        Shards = shards;
    }

    /// <summary>The set's id: 32 lowercase hex digits.</summary>
    internal string Id { get; }

    internal int GroupCount { get; }

    internal IReadOnlyList<ManifestTensor> Tensors { get; }

    /// <summary>One per rank that saved, in rank order.</summary>
    internal IReadOnlyList<ManifestShard> Shards { get; }

    /// <summary>The file rank <paramref name="rank"/> of <paramref name="ranks"/> writes for set <paramref name="id"/>.</summary>
    internal static string ShardFileName(string id, int rank, int ranks) =>
        string.Create(CultureInfo.InvariantCulture, $"shard-{id}-rank-{rank}-of-{ranks}.safetensors");

    /// <summary>The manifest of <paramref name="optimizer"/>'s current layout, for set <paramref name="id"/>.</summary>
    internal static ShardManifest Describe(DistributedAdaBeliefOptimizer optimizer, string id)
    {
        ShardLayout layout = optimizer.Layout;
        ManifestTensor[] tensors = [.. optimizer.Space.Tensors.Select(ManifestTensor.Of)];
        var shards = new ManifestShard[layout.Ranks];
        for (int r = 0; r < layout.Ranks; r++)
        {
            shards[r] = new ManifestShard(ShardFileName(id, r, layout.Ranks), layout.Pieces[r]);
        }
        return new ShardManifest(id, optimizer.ParamGroups.Count, tensors, shards);
    }

    /// <summary>Writes the manifest into <paramref name="folder"/> atomically (a temporary file moved over it).</summary>
    internal void Write(string folder)
    {
        string target = Path.Combine(folder, FileName);
        string temporary = Path.Combine(folder, $".{FileName}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var file = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write))
            using (var json = new Utf8JsonWriter(file, new JsonWriterOptions { Indented = true }))
            {
                json.WriteStartObject();
                json.WriteString("format", FormatName);
                json.WriteNumber("format_version", FormatVersion);
                json.WriteString("library_version", NativeAdaBeliefLibrary.Version);
                json.WriteString("checkpoint_id", Id);
                json.WriteNumber("rank_count", Shards.Count);
                json.WriteNumber("group_count", GroupCount);
                json.WriteStartArray("tensors");
                foreach (ManifestTensor tensor in Tensors)
                {
                    json.WriteStartObject();
                    json.WriteNumber("length", tensor.Length);
                    json.WriteString("parameter_type", tensor.ParameterType.ToString());
                    json.WriteBoolean("master_copy", tensor.MasterCopy);
                    json.WriteNumber("group", tensor.Group);
                    json.WriteEndObject();
                }
                json.WriteEndArray();
                json.WriteStartArray("shards");
                foreach (ManifestShard shard in Shards)
                {
                    json.WriteStartObject();
                    json.WriteString("file", shard.File);
                    json.WriteStartArray("pieces");
                    foreach (ShardPiece piece in shard.Pieces)
                    {
                        json.WriteStartArray();
                        json.WriteNumberValue(piece.Tensor);
                        json.WriteNumberValue(piece.Offset);
                        json.WriteNumberValue(piece.Length);
                        json.WriteEndArray();
                    }
                    json.WriteEndArray();
                    json.WriteEndObject();
                }
                json.WriteEndArray();
                json.WriteEndObject();
                json.Flush();
                file.Flush(flushToDisk: true);
            }
            File.Move(temporary, target, overwrite: true);
        }
        catch
        {
            File.Delete(temporary);
            throw;
        }
    }

    /// <summary>Reads and checks <c>distributed.json</c> in <paramref name="folder"/>.</summary>
    /// <exception cref="InvalidDataException">It is missing, not JSON, or breaks a rule (the message says which).</exception>
    internal static ShardManifest Read(string folder)
    {
        string path = Path.Combine(folder, FileName);
        if (!File.Exists(path))
        {
            throw new InvalidDataException($"{folder} has no {FileName}: it is not a complete per-rank checkpoint.");
        }
        try
        {
            using JsonDocument document = JsonDocument.Parse(File.ReadAllBytes(path));
            JsonElement root = document.RootElement;
            Require(root.ValueKind == JsonValueKind.Object, "its top level is not an object");
            Require(String(root, "format") == FormatName, $"format is not \"{FormatName}\"");
            int version = Int(root, "format_version");
            Require(version == FormatVersion, $"format_version {version} is not {FormatVersion}, the version this library reads");
            string id = String(root, "checkpoint_id");
            Require(id.Length == 32 && id.All(char.IsAsciiHexDigitLower), $"checkpoint_id \"{id}\" is not 32 lowercase hex digits");
            int ranks = Int(root, "rank_count");
            int groups = Int(root, "group_count");
            Require(ranks >= 1 && groups >= 1, "rank_count and group_count must be at least 1");
            ManifestTensor[] tensors = [.. Array(root, "tensors").Select(ReadTensor)];
            Require(tensors.Length >= 1, "tensors is empty");
            ManifestShard[] shards = [.. Array(root, "shards").Select(ReadShard)];
            Require(shards.Length == ranks, $"there are {shards.Length} shards for rank_count {ranks}");
            var manifest = new ShardManifest(id, groups, tensors, shards);
            manifest.CheckShards();
            return manifest;
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path} is not valid JSON: {e.Message}", e);
        }
        catch (ManifestRuleException e)
        {
            throw new InvalidDataException($"{path} is not a valid manifest: {e.Message}.", e);
        }
    }

    /// <summary>Fails unless the manifest describes <paramref name="space"/> with <paramref name="groupCount"/> groups.</summary>
    /// <exception cref="InvalidDataException">The first difference.</exception>
    internal void CheckModel(ParameterSpace space, int groupCount)
    {
        if (GroupCount != groupCount || Tensors.Count != space.Tensors.Count)
        {
            throw new InvalidDataException(
                $"The checkpoint is of a model with {GroupCount} group(s) and {Tensors.Count} tensor(s); this one has {groupCount} and "
                + $"{space.Tensors.Count}.");
        }
        for (int t = 0; t < Tensors.Count; t++)
        {
            ManifestTensor mine = ManifestTensor.Of(space.Tensors[t]);
            if (Tensors[t] != mine)
            {
                throw new InvalidDataException(
                    $"{space.Tensors[t].Spec.Describe(t)} is {mine} in this model but {Tensors[t]} in the checkpoint.");
            }
        }
    }

    /// <summary>Each file name is the one its rank writes, and the pieces tile every tensor exactly once.</summary>
    private void CheckShards()
    {
        var covered = new List<ShardPiece>[Tensors.Count];
        for (int r = 0; r < Shards.Count; r++)
        {
            string expected = ShardFileName(Id, r, Shards.Count);
            Require(Shards[r].File == expected, $"shard {r}'s file is \"{Shards[r].File}\", not \"{expected}\"");
            foreach (ShardPiece piece in Shards[r].Pieces)
            {
                Require(piece.Tensor >= 0 && piece.Tensor < Tensors.Count, $"shard {r} names tensor {piece.Tensor}, which does not exist");
                Require(piece.Offset >= 0 && piece.Length >= 1 && piece.Offset + piece.Length <= Tensors[piece.Tensor].Length,
                    $"shard {r}'s piece [{piece.Offset}, +{piece.Length}) lies outside tensor {piece.Tensor}");
                (covered[piece.Tensor] ??= []).Add(piece);
            }
        }
        for (int t = 0; t < Tensors.Count; t++)
        {
            long next = 0;
            foreach (ShardPiece piece in (covered[t] ?? []).OrderBy(p => p.Offset))
            {
                Require(piece.Offset == next, $"tensor {t}'s pieces leave a gap or overlap at element {Math.Min(next, piece.Offset)}");
                next = piece.Offset + piece.Length;
            }
            Require(next == Tensors[t].Length, $"tensor {t}'s pieces end at element {next} of {Tensors[t].Length}");
        }
    }

    private static ManifestTensor ReadTensor(JsonElement element)
    {
        Require(element.ValueKind == JsonValueKind.Object, "a tensor is not an object");
        string type = String(element, "parameter_type");
        Require(Enum.TryParse(type, ignoreCase: false, out TensorElementType parsed) && Enum.IsDefined(parsed) && type == parsed.ToString(),
            $"parameter_type \"{type}\" is not Float32, Float16 or BFloat16");
        JsonElement master = Property(element, "master_copy");
        Require(master.ValueKind is JsonValueKind.True or JsonValueKind.False, "master_copy is not true or false");
        return new ManifestTensor(Long(element, "length"), parsed, master.GetBoolean(), Int(element, "group"));
    }

    private static ManifestShard ReadShard(JsonElement element)
    {
        Require(element.ValueKind == JsonValueKind.Object, "a shard is not an object");
        ShardPiece[] pieces = [.. Array(element, "pieces").Select(piece =>
        {
            Require(piece.ValueKind == JsonValueKind.Array && piece.GetArrayLength() == 3 && piece[0].ValueKind == JsonValueKind.Number
                && piece[1].ValueKind == JsonValueKind.Number && piece[2].ValueKind == JsonValueKind.Number
                && piece[0].TryGetInt32(out _) && piece[1].TryGetInt64(out _) && piece[2].TryGetInt64(out _),
                "a piece is not [tensor, offset, length] in integers");
            return new ShardPiece(piece[0].GetInt32(), piece[1].GetInt64(), piece[2].GetInt64());
        })];
        return new ManifestShard(String(element, "file"), pieces);
    }

    private static JsonElement Property(JsonElement element, string name) =>
        element.TryGetProperty(name, out JsonElement value) ? value : throw new ManifestRuleException($"\"{name}\" is missing");

    private static string String(JsonElement element, string name)
    {
        JsonElement value = Property(element, name);
        Require(value.ValueKind == JsonValueKind.String, $"\"{name}\" is not a string");
        return value.GetString()!;
    }

    private static int Int(JsonElement element, string name) =>
        Property(element, name) is { ValueKind: JsonValueKind.Number } value && value.TryGetInt32(out int number)
            ? number
            : throw new ManifestRuleException($"\"{name}\" is not an integer");

    private static long Long(JsonElement element, string name) =>
        Property(element, name) is { ValueKind: JsonValueKind.Number } value && value.TryGetInt64(out long number)
            ? number
            : throw new ManifestRuleException($"\"{name}\" is not an integer");

    private static IEnumerable<JsonElement> Array(JsonElement element, string name)
    {
        JsonElement value = Property(element, name);
        Require(value.ValueKind == JsonValueKind.Array, $"\"{name}\" is not an array");
        return value.EnumerateArray();
    }

    private static void Require(bool condition, string rule)
    {
        if (!condition)
        {
            throw new ManifestRuleException(rule);
        }
    }

    /// <summary>A broken rule of the manifest (turned into <see cref="InvalidDataException"/> with the file's name).</summary>
    private sealed class ManifestRuleException(string message) : Exception(message);
}
