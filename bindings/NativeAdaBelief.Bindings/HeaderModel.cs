using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace NativeAdaBelief.Bindings;

/// <summary>A failure the user must fix (bad header construct, clang missing, ...).</summary>
internal sealed class GeneratorException : Exception
{
    public GeneratorException()
    {
    }

    public GeneratorException(string message) : base(message)
    {
    }

    public GeneratorException(string message, Exception innerException) : base(message, innerException)
    {
    }
}

internal sealed record EnumConstant(string Name, long Value, IReadOnlyList<string> Doc);

internal sealed record EnumModel(string Name, string CSpelling, IReadOnlyList<string> Doc,
    IReadOnlyList<EnumConstant> Constants);

internal sealed record FieldModel(string Name, string CType, IReadOnlyList<string> Doc);

internal sealed record StructModel(string Name, string CSpelling, IReadOnlyList<string> Doc,
    IReadOnlyList<FieldModel> Fields);

internal sealed record OpaqueModel(string Name, IReadOnlyList<string> Doc);

internal sealed record ParamModel(string Name, string CType);

internal sealed record FunctionModel(string Name, string ReturnCType, IReadOnlyList<ParamModel> Params,
    IReadOnlyList<string> Doc);

internal sealed record MacroConstant(string Name, ulong Value, IReadOnlyList<string> Doc);

/// <summary>Everything the header declares, in header order.</summary>
internal sealed class HeaderModel
{
    public List<MacroConstant> Macros { get; } = new();
    public List<EnumModel> Enums { get; } = new();
    public List<StructModel> Structs { get; } = new();
    public List<OpaqueModel> Opaques { get; } = new();
    public List<FunctionModel> Functions { get; } = new();
    /// <summary>Typedef names that alias another C type (not a tag): name → aliased type.</summary>
    public Dictionary<string, string> ScalarTypedefs { get; } = new(StringComparer.Ordinal);
    /// <summary>C spellings ("nab_status", "enum nab_status", "struct x", typedef names) → the
    /// generated type's name, for enums, complete structs and opaque structs.</summary>
    public Dictionary<string, string> EnumNames { get; } = new(StringComparer.Ordinal);
    public Dictionary<string, string> StructNames { get; } = new(StringComparer.Ordinal);
    public Dictionary<string, string> OpaqueNames { get; } = new(StringComparer.Ordinal);
    /// <summary>Declarations that carry no comment in the header (they get a fallback doc).</summary>
    public List<string> Undocumented { get; } = new();
}

/// <summary>Builds a <see cref="HeaderModel"/> from the AST of one header.</summary>
internal static class HeaderModelBuilder
{
    // A strict object-like integer macro as -dM -E prints it: "#define NAME 123" / "0x1F" / "1u".
    private static readonly Regex DumpedIntegerMacro = new(
        @"^#define (?<name>[A-Za-z_][A-Za-z0-9_]*) (?<value>0[xX][0-9A-Fa-f]+|[0-9]+)[uU]?$",
        RegexOptions.CultureInvariant);

    public static HeaderModel Build(AstNode translationUnit, string headerFullPath, byte[] headerBytes,
        string preprocessorMacros)
    {
        var model = new HeaderModel();
        string headerText = Encoding.UTF8.GetString(headerBytes).Replace("\r\n", "\n");

        var decls = translationUnit.Inner
            .Where(n => !n.IsImplicit && n.Loc?.File is string f && SamePath(f, headerFullPath))
            .ToList();

        ReadMacros(model, headerText, preprocessorMacros);

        // Tags by id, and which typedefs name them.
        var tagsById = new Dictionary<string, AstNode>(StringComparer.Ordinal);
        foreach (var d in decls.Where(d => d.Kind is "RecordDecl" or "EnumDecl" && d.Id is not null))
        {
            tagsById[d.Id!] = d;
        }
        var typedefsByTagKey = new Dictionary<string, List<AstNode>>(StringComparer.Ordinal);
        foreach (var t in decls.Where(d => d.Kind == "TypedefDecl"))
        {
            if (t.TagDeclId is string id && tagsById.TryGetValue(id, out var tag))
            {
                string key = TagKey(tag);
                if (!typedefsByTagKey.TryGetValue(key, out var list)) typedefsByTagKey[key] = list = new();
                list.Add(t);
            }
        }

        // Tag names: a complete definition anywhere makes a struct complete.
        var completeTagKeys = decls
            .Where(d => d.Kind == "RecordDecl" && d.CompleteDefinition)
            .Select(TagKey)
            .ToHashSet(StringComparer.Ordinal);

        var emittedTags = new HashSet<string>(StringComparer.Ordinal);
        foreach (var decl in decls)
        {
            switch (decl.Kind)
            {
                case "EnumDecl":
                    if (!emittedTags.Add(TagKey(decl))) break;
                    AddEnum(model, decl, typedefsByTagKey, headerBytes);
                    break;
                case "RecordDecl":
                {
                    string key = TagKey(decl);
                    if (decl.TagUsed != "struct")
                    {
                        throw Unsupported(decl, $"'{decl.TagUsed} {decl.Name}': only structs can cross the ABI (no unions)");
                    }
                    if (completeTagKeys.Contains(key))
                    {
                        if (!decl.CompleteDefinition || !emittedTags.Add(key)) break; // forward declaration
                        AddStruct(model, decl, typedefsByTagKey, headerBytes);
                    }
                    else
                    {
                        if (!emittedTags.Add(key)) break;
                        AddOpaque(model, decl, typedefsByTagKey, headerBytes);
                    }
                    break;
                }
                case "TypedefDecl":
                    if (decl.TagDeclId is string id && tagsById.ContainsKey(id)) break; // handled with its tag
                    if (decl.Name is null || decl.QualType is null) throw Unsupported(decl, "typedef without a name or type");
                    if (decl.QualType.Contains('(', StringComparison.Ordinal))
                    {
                        throw Unsupported(decl, $"typedef '{decl.Name}' of a function type: callbacks are not supported by the generator");
                    }
                    model.ScalarTypedefs[decl.Name] = decl.QualType;
                    break;
                case "FunctionDecl":
                    AddFunction(model, decl, headerBytes);
                    break;
                default:
                    throw Unsupported(decl, $"top-level '{decl.Kind}' {decl.Name}");
            }
        }
        return model;
    }

    private static void ReadMacros(HeaderModel model, string headerText, string preprocessorMacros)
    {
        // Values come from the preprocessor (-dM -E: only active definitions); the header text
        // tells which macros are the header's own and holds their comments.
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (string line in preprocessorMacros.Replace("\r\n", "\n").Split('\n'))
        {
            var m = DumpedIntegerMacro.Match(line.TrimEnd());
            if (m.Success) values[m.Groups["name"].Value] = m.Groups["value"].Value;
        }

        var defines = new Regex(@"^[ \t]*#[ \t]*define[ \t]+(?<name>[A-Za-z_][A-Za-z0-9_]*)(?=[ \t]|$)",
            RegexOptions.Multiline | RegexOptions.CultureInvariant);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (Match m in defines.Matches(headerText))
        {
            string name = m.Groups["name"].Value;
            if (!values.TryGetValue(name, out string? literal) || !seen.Add(name)) continue;
            ulong value = literal.StartsWith("0x", StringComparison.OrdinalIgnoreCase)
                ? ulong.Parse(literal.AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture)
                : ulong.Parse(literal, NumberStyles.None, CultureInfo.InvariantCulture);
            var doc = Comments.Preceding(headerText, m.Index);
            if (doc.Count == 0) model.Undocumented.Add($"macro {name}");
            model.Macros.Add(new MacroConstant(name, value, doc));
        }

        if (!model.Macros.Any(m => m.Name == "NAB_ABI_VERSION"))
        {
            throw new GeneratorException(
                "the header does not define NAB_ABI_VERSION as an integer literal " +
                "(expected a line like '#define NAB_ABI_VERSION 1', active for this compiler)");
        }
    }

    private static void AddEnum(HeaderModel model, AstNode decl, Dictionary<string, List<AstNode>> typedefs,
        byte[] header)
    {
        var (name, spelling, names) = NameTag(decl, typedefs, "enum");
        var doc = DocOf(decl, header) ?? TypedefDoc(decl, typedefs, header);
        if (doc is null)
        {
            model.Undocumented.Add($"enum {name}");
            doc = new[] { $"The C enumeration {spelling}." };
        }

        var constants = new List<EnumConstant>();
        long next = 0;
        foreach (var c in decl.Inner.Where(i => i.Kind == "EnumConstantDecl"))
        {
            long value = next;
            var init = c.Inner.FirstOrDefault(i => i.Kind is not "FullComment");
            if (init is not null)
            {
                string? text = init.Value;
                if (text is null || !long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out value))
                {
                    throw Unsupported(c, $"enumerator {c.Name}: clang gave no constant value");
                }
            }
            if (value is < int.MinValue or > int.MaxValue)
            {
                throw Unsupported(c, $"enumerator {c.Name} = {value} does not fit a 32-bit int");
            }
            next = value + 1;
            var cdoc = DocOf(c, header);
            if (cdoc is null)
            {
                model.Undocumented.Add($"enumerator {c.Name}");
                cdoc = new[] { $"The C enumerator {c.Name} of {spelling} (= {value.ToString(CultureInfo.InvariantCulture)})." };
            }
            constants.Add(new EnumConstant(c.Name ?? throw Unsupported(c, "unnamed enumerator"), value, cdoc));
        }
        model.Enums.Add(new EnumModel(name, spelling, doc, constants));
        foreach (string n in names) model.EnumNames[n] = name;
    }

    private static void AddStruct(HeaderModel model, AstNode decl, Dictionary<string, List<AstNode>> typedefs,
        byte[] header)
    {
        var (name, spelling, names) = NameTag(decl, typedefs, "struct");
        var doc = DocOf(decl, header) ?? TypedefDoc(decl, typedefs, header);
        if (doc is null)
        {
            model.Undocumented.Add($"struct {name}");
            doc = new[] { $"The C struct {spelling}." };
        }

        var fields = new List<FieldModel>();
        foreach (var member in decl.Inner.Where(i => i.Kind != "FullComment"))
        {
            if (member.Kind != "FieldDecl")
            {
                throw Unsupported(member, $"'{member.Kind}' inside struct {name}: only plain fields are supported");
            }
            if (member.IsBitfield) throw Unsupported(member, $"bit-field {name}.{member.Name} is not blittable");
            if (string.IsNullOrEmpty(member.Name)) throw Unsupported(member, $"anonymous member in struct {name}");
            string ctype = member.QualType ?? throw Unsupported(member, $"field {member.Name} has no type");
            var fdoc = DocOf(member, header);
            if (fdoc is null)
            {
                model.Undocumented.Add($"field {name}.{member.Name}");
                fdoc = new[] { $"The C field {member.Name} of {spelling}." };
            }
            fields.Add(new FieldModel(member.Name, ctype, fdoc));
        }
        if (fields.Count == 0) throw Unsupported(decl, $"struct {name} has no fields");
        model.Structs.Add(new StructModel(name, spelling, doc, fields));
        foreach (string n in names) model.StructNames[n] = name;
    }

    private static void AddOpaque(HeaderModel model, AstNode decl, Dictionary<string, List<AstNode>> typedefs,
        byte[] header)
    {
        var (name, _, names) = NameTag(decl, typedefs, "struct");
        var doc = DocOf(decl, header) ?? TypedefDoc(decl, typedefs, header);
        if (doc is null)
        {
            model.Undocumented.Add($"opaque struct {name}");
            doc = new[] { $"The opaque C struct {name}." };
        }
        model.Opaques.Add(new OpaqueModel(name, doc));
        foreach (string n in names) model.OpaqueNames[n] = name;
    }

    private static void AddFunction(HeaderModel model, AstNode decl, byte[] header)
    {
        string name = decl.Name ?? throw Unsupported(decl, "unnamed function");
        if (decl.StorageClass == "static" || decl.IsInline)
        {
            throw Unsupported(decl, $"function {name} is static or inline: it is not part of the exported ABI; move it out of the public header");
        }
        if (decl.Variadic) throw Unsupported(decl, $"function {name} is variadic");
        string type = decl.QualType ?? throw Unsupported(decl, $"function {name} has no type");
        int paren = type.IndexOf('(', StringComparison.Ordinal);
        if (paren <= 0) throw Unsupported(decl, $"cannot read the type '{type}' of {name}");
        string returnType = type.Substring(0, paren).Trim();

        var parameters = new List<ParamModel>();
        int index = 0;
        foreach (var p in decl.Inner.Where(i => i.Kind == "ParmVarDecl"))
        {
            string pname = string.IsNullOrEmpty(p.Name) ? $"arg{index.ToString(CultureInfo.InvariantCulture)}" : p.Name;
            parameters.Add(new ParamModel(pname, p.QualType ?? throw Unsupported(p, $"parameter {pname} of {name} has no type")));
            index++;
        }

        var doc = DocOf(decl, header);
        if (doc is null)
        {
            model.Undocumented.Add($"function {name}");
            doc = new[] { $"The C function {name}." };
        }
        model.Functions.Add(new FunctionModel(name, returnType, parameters, doc));
    }

    /// <summary>The generated name of a tag (its single typedef's name, else its tag name), its C
    /// spelling for sizeof/offsetof, and every C spelling that refers to it.</summary>
    private static (string Name, string CSpelling, List<string> Spellings) NameTag(AstNode decl,
        Dictionary<string, List<AstNode>> typedefs, string keyword)
    {
        typedefs.TryGetValue(TagKey(decl), out var tds);
        var typedefNames = (tds ?? new()).Select(t => t.Name).OfType<string>().Distinct().ToList();
        var spellings = new List<string>(typedefNames);
        string? name;
        string? spelling;
        if (!string.IsNullOrEmpty(decl.Name))
        {
            spellings.Add($"{keyword} {decl.Name}");
            spelling = $"{keyword} {decl.Name}";
            name = typedefNames.Count == 1 ? typedefNames[0] : decl.Name;
        }
        else
        {
            name = typedefNames.Count > 0 ? typedefNames[0] : null;
            spelling = name;
        }
        if (name is null || spelling is null) throw Unsupported(decl, $"anonymous {keyword} without a typedef name");
        return (name, spelling, spellings);
    }

    private static string TagKey(AstNode tag) =>
        string.IsNullOrEmpty(tag.Name) ? $"{tag.Kind}#{tag.Id}" : $"{tag.Kind}:{tag.Name}";

    private static IReadOnlyList<string>? TypedefDoc(AstNode tag, Dictionary<string, List<AstNode>> typedefs, byte[] header)
    {
        if (!typedefs.TryGetValue(TagKey(tag), out var tds)) return null;
        return tds.Select(t => DocOf(t, header)).FirstOrDefault(d => d is not null);
    }

    private static IReadOnlyList<string>? DocOf(AstNode decl, byte[] header)
    {
        var full = decl.Inner.FirstOrDefault(i => i.Kind == "FullComment");
        if (full?.RangeBegin is not SourcePos begin) return null;
        var lines = Comments.FromOffset(header, begin.Offset, full.RangeEnd?.Offset ?? begin.Offset,
            decl.RangeBegin?.Offset);
        return lines is not null && lines.Any(l => l.Length > 0) ? lines : null;
    }

    private static bool SamePath(string a, string b) =>
        string.Equals(Path.GetFullPath(a), b,
            OperatingSystem.IsWindows() ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal);

    internal static GeneratorException Unsupported(AstNode node, string what) =>
        new($"native/include/native_adabelief.h:{node.LineOrZero.ToString(CultureInfo.InvariantCulture)}: unsupported: {what}");
}
