using System.Buffers.Binary;
using System.Text;
using System.Text.Json.Nodes;

namespace NativeAdaBelief.Tests.Support;

/// <summary>
/// Takes a checkpoint apart and puts it back together after an edit, re-signing the metadata
/// (so a test can hand the loader a file that is well-formed and checksummed but wrong in one
/// chosen way).
/// </summary>
internal static class CheckpointSurgery
{
    public static (JsonObject Header, byte[] Data) Split(byte[] file)
    {
        long n = (long)BinaryPrimitives.ReadUInt64LittleEndian(file);
        var header = (JsonObject)JsonNode.Parse(Encoding.UTF8.GetString(file, 8, (int)n))!;
        return (header, file[(8 + (int)n)..]);
    }

    public static byte[] Join(JsonObject header, byte[] data, bool resign = true)
    {
        if (resign)
        {
            var meta = (JsonObject)header["__metadata__"]!;
            meta[CheckpointFormat.KeyDataSha256] = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(data));
            var map = meta.ToDictionary(p => p.Key, p => (string)p.Value!);
            meta[CheckpointFormat.KeyMetadataSha256] = CheckpointFormat.MetadataSha256(map);
        }
        byte[] json = Encoding.UTF8.GetBytes(header.ToJsonString());
        var file = new byte[8 + json.Length + data.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(file, (ulong)json.Length);
        json.CopyTo(file, 8);
        data.CopyTo(file, 8 + json.Length);
        return file;
    }

    /// <summary>Applies <paramref name="edit"/> to the header (and data) and re-signs.</summary>
    public static byte[] Edit(byte[] file, Action<JsonObject, JsonObject> editHeaderAndMetadata, Func<byte[], byte[]>? editData = null)
    {
        (JsonObject header, byte[] data) = Split(file);
        editHeaderAndMetadata(header, (JsonObject)header["__metadata__"]!);
        return Join(header, editData is null ? data : editData(data));
    }
}
