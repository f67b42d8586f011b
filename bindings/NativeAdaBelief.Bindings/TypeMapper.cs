namespace NativeAdaBelief.Bindings;

/// <summary>Maps a C type (clang's qualType spelling, typedef names kept) to a blittable C# type.</summary>
/// <remarks>
/// Integer types map by their fixed-width typedef name, never by what they desugar to
/// (uint64_t is "unsigned long" on Linux and "unsigned long long" on Windows), so the output is
/// the same on every platform. Plain int/long/short/_Bool are refused: the ABI uses fixed
/// widths. const is dropped (C# has no const pointers).
/// </remarks>
internal sealed class TypeMapper(HeaderModel model)
{
    private static readonly Dictionary<string, string> Scalars = new(StringComparer.Ordinal)
    {
        ["int8_t"] = "sbyte",
        ["uint8_t"] = "byte",
        ["int16_t"] = "short",
        ["uint16_t"] = "ushort",
        ["int32_t"] = "int",
        ["uint32_t"] = "uint",
        ["int64_t"] = "long",
        ["uint64_t"] = "ulong",
        ["intptr_t"] = "nint",
        ["uintptr_t"] = "nuint",
        ["size_t"] = "nuint",
        ["float"] = "float",
        ["double"] = "double",
        ["char"] = "byte",
        ["void"] = "void",
    };

    /// <summary>The C# type for <paramref name="cType"/>; <paramref name="where"/> names the
    /// declaration for error messages.</summary>
    public string Map(string cType, string where) => Map(cType, where, 0);

    private string Map(string cType, string where, int depth)
    {
        if (depth > 16) throw new GeneratorException($"{where}: typedef chain too deep at '{cType}'");
        if (cType.IndexOfAny(['(', '[', '&', '<']) >= 0)
        {
            throw new GeneratorException(
                $"{where}: unsupported C type '{cType}' (arrays, function pointers and C++ types are not mapped; " +
                "use a pointer plus a length, or extend bindings/NativeAdaBelief.Bindings/TypeMapper.cs)");
        }

        var tokens = cType.Replace("*", " * ", StringComparison.Ordinal)
            .Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
        int stars = 0;
        string? keyword = null;
        var baseWords = new List<string>();
        foreach (string t in tokens)
        {
            switch (t)
            {
                case "*":
                    if (baseWords.Count == 0) throw new GeneratorException($"{where}: cannot read C type '{cType}'");
                    stars++;
                    break;
                case "const":
                case "volatile":
                case "restrict":
                case "__restrict":
                    break;
                case "struct":
                case "enum":
                    keyword = t;
                    break;
                case "union":
                    throw new GeneratorException($"{where}: unions are not supported ('{cType}')");
                default:
                    if (stars > 0) throw new GeneratorException($"{where}: cannot read C type '{cType}'");
                    baseWords.Add(t);
                    break;
            }
        }
        if (baseWords.Count != 1)
        {
            throw new GeneratorException(
                $"{where}: C type '{cType}' is not fixed-width; use int32_t, uint64_t, ... in the public header");
        }

        string name = baseWords[0];
        string spelled = keyword is null ? name : $"{keyword} {name}";
        string pointers = new('*', stars);

        if (keyword is null && Scalars.TryGetValue(name, out string? scalar))
        {
            return scalar + pointers;
        }
        if (model.EnumNames.TryGetValue(spelled, out string? enumName))
        {
            return enumName + pointers;
        }
        if (model.StructNames.TryGetValue(spelled, out string? structName))
        {
            return structName + pointers;
        }
        if (model.OpaqueNames.TryGetValue(spelled, out string? opaqueName))
        {
            if (stars == 0)
            {
                throw new GeneratorException($"{where}: the opaque struct {opaqueName} can only be used through a pointer");
            }
            // A handle is an address: T* → nint, T** → nint*.
            return "nint" + new string('*', stars - 1);
        }
        if (keyword is null && model.ScalarTypedefs.TryGetValue(name, out string? aliased))
        {
            return Map(aliased + pointers, where, depth + 1);
        }
        throw new GeneratorException(
            $"{where}: C type '{cType}' is not mapped (plain int, long, short, unsigned and _Bool are refused " +
            "because the ABI uses fixed-width types; other types need a line in TypeMapper.cs)");
    }

    /// <summary>Whether a mapped C# type is an unmanaged pointer.</summary>
    public static bool IsPointer(string csType) => csType.EndsWith('*');
}
