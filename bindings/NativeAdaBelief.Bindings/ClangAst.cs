using System.Text.Json;

namespace NativeAdaBelief.Bindings;

/// <summary>A resolved source position: clang's JSON prints file and line only when they
/// change, so they are reconstructed by reading the dump in document order.</summary>
internal readonly record struct SourcePos(string? File, int Line, long Offset);

/// <summary>The parts of one clang JSON AST node that the generator needs.</summary>
internal sealed class AstNode
{
    public required string Kind { get; init; }
    public string? Id { get; set; }
    public string? Name { get; set; }
    public SourcePos? Loc { get; set; }
    public SourcePos? RangeBegin { get; set; }
    public SourcePos? RangeEnd { get; set; }
    /// <summary>type.qualType: the type as written (typedef names kept).</summary>
    public string? QualType { get; set; }
    /// <summary>The "value" of a ConstantExpr / IntegerLiteral.</summary>
    public string? Value { get; set; }
    public string? TagUsed { get; set; }
    public bool CompleteDefinition { get; set; }
    public bool IsImplicit { get; set; }
    public bool IsBitfield { get; set; }
    public bool Variadic { get; set; }
    public string? StorageClass { get; set; }
    public bool IsInline { get; set; }
    /// <summary>For a TypedefDecl of an ElaboratedType: the id of the tag declaration it
    /// names or owns.</summary>
    public string? TagDeclId { get; set; }
    public List<AstNode> Inner { get; } = new();

    public int LineOrZero => Loc?.Line ?? RangeBegin?.Line ?? 0;
}

/// <summary>Reads clang's <c>-ast-dump=json</c> output into <see cref="AstNode"/>s.</summary>
internal static class ClangAstReader
{
    private sealed class State
    {
        public string? File;
        public int Line;
    }

    public static AstNode Read(string json)
    {
        using var doc = JsonDocument.Parse(json, new JsonDocumentOptions { MaxDepth = 4096 });
        var state = new State();
        return ReadNode(doc.RootElement, state);
    }

    private static AstNode ReadNode(JsonElement element, State state)
    {
        string kind = element.TryGetProperty("kind", out var k) ? k.GetString() ?? "" : "";
        var node = new AstNode { Kind = kind };
        // Properties are visited in document order so that the incremental file/line
        // information in locations is resolved exactly as clang emitted it.
        foreach (var property in element.EnumerateObject())
        {
            switch (property.Name)
            {
                case "id":
                    node.Id = property.Value.GetString();
                    break;
                case "name":
                    node.Name = property.Value.ValueKind == JsonValueKind.String ? property.Value.GetString() : null;
                    break;
                case "loc":
                    node.Loc = ReadLocation(property.Value, state);
                    break;
                case "range":
                    if (property.Value.ValueKind == JsonValueKind.Object)
                    {
                        foreach (var edge in property.Value.EnumerateObject())
                        {
                            var pos = ReadLocation(edge.Value, state);
                            if (edge.Name == "begin") node.RangeBegin = pos;
                            else if (edge.Name == "end") node.RangeEnd = pos;
                        }
                    }
                    break;
                case "type":
                    if (property.Value.ValueKind == JsonValueKind.Object &&
                        property.Value.TryGetProperty("qualType", out var qt))
                    {
                        node.QualType = qt.GetString();
                    }
                    break;
                case "value":
                    node.Value = property.Value.ValueKind == JsonValueKind.String
                        ? property.Value.GetString()
                        : property.Value.GetRawText();
                    break;
                case "tagUsed":
                    node.TagUsed = property.Value.GetString();
                    break;
                case "completeDefinition":
                    node.CompleteDefinition = property.Value.ValueKind == JsonValueKind.True;
                    break;
                case "isImplicit":
                    node.IsImplicit = property.Value.ValueKind == JsonValueKind.True;
                    break;
                case "isBitfield":
                    node.IsBitfield = property.Value.ValueKind == JsonValueKind.True;
                    break;
                case "variadic":
                    node.Variadic = property.Value.ValueKind == JsonValueKind.True;
                    break;
                case "storageClass":
                    node.StorageClass = property.Value.GetString();
                    break;
                case "inline":
                    node.IsInline = property.Value.ValueKind == JsonValueKind.True;
                    break;
                case "ownedTagDecl":
                case "decl":
                    if (property.Value.ValueKind == JsonValueKind.Object &&
                        property.Value.TryGetProperty("id", out var tagId) &&
                        property.Value.TryGetProperty("kind", out var tagKind) &&
                        tagKind.GetString() is "RecordDecl" or "EnumDecl")
                    {
                        node.TagDeclId ??= tagId.GetString();
                    }
                    break;
                case "inner":
                    foreach (var child in property.Value.EnumerateArray())
                    {
                        var childNode = ReadNode(child, state);
                        node.Inner.Add(childNode);
                        // A typedef's tag is found on its ElaboratedType/RecordType/EnumType child.
                        // Only through tag-naming type nodes: a pointer typedef is not the tag.
                        if ((kind is "TypedefDecl" or "ElaboratedType") &&
                            childNode.Kind is "ElaboratedType" or "RecordType" or "EnumType")
                        {
                            node.TagDeclId ??= childNode.TagDeclId;
                        }
                    }
                    break;
                default:
                    // Anything else may still hold locations (it never does in clang 14, but the
                    // file/line state must never miss an update).
                    Scan(property.Value, state);
                    break;
            }
        }
        return node;
    }

    private static SourcePos? ReadLocation(JsonElement location, State state)
    {
        if (location.ValueKind != JsonValueKind.Object) return null;
        if (location.TryGetProperty("spellingLoc", out _) || location.TryGetProperty("expansionLoc", out _))
        {
            SourcePos? expansion = null;
            foreach (var part in location.EnumerateObject())
            {
                var pos = ReadBareLocation(part.Value, state);
                if (part.Name == "expansionLoc") expansion = pos;
            }
            return expansion;
        }
        return ReadBareLocation(location, state);
    }

    private static SourcePos? ReadBareLocation(JsonElement location, State state)
    {
        if (location.ValueKind != JsonValueKind.Object) return null;
        long? offset = null;
        foreach (var p in location.EnumerateObject())
        {
            switch (p.Name)
            {
                case "offset": offset = p.Value.GetInt64(); break;
                case "file": state.File = p.Value.GetString(); break;
                case "line": state.Line = p.Value.GetInt32(); break;
                // "includedFrom" names the includer; it does not change the current file.
            }
        }
        return offset is long o ? new SourcePos(state.File, state.Line, o) : null;
    }

    private static void Scan(JsonElement element, State state)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                if (element.TryGetProperty("offset", out _))
                {
                    ReadBareLocation(element, state);
                    return;
                }
                foreach (var p in element.EnumerateObject())
                {
                    if (p.Name != "includedFrom") Scan(p.Value, state);
                }
                break;
            case JsonValueKind.Array:
                foreach (var item in element.EnumerateArray()) Scan(item, state);
                break;
        }
    }
}
