using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text.Json;
using Xunit;

namespace NativeAdaBelief.Tests.Interop;

/// <summary>
/// Checks that every generated C# interop struct has exactly the C compiler's layout: the same
/// size and the same offset for every field, and the same set of structs on both sides.
/// </summary>
/// <remarks>
/// The C side is the report printed by native/tests/abi_layout/abi_layout_report.g.c (generated
/// from the header by bindings/, built and run by ./build.sh test), whose path is given by the
/// NAB_ABI_LAYOUT_REPORT environment variable. Its shape:
/// {"nab_group_options": {"size": 72, "fields": {"struct_size": 0, ...}}, ...}.
/// </remarks>
public sealed class StructLayoutTests
{
    private const string ReportVariable = "NAB_ABI_LAYOUT_REPORT";
    private const string InteropNamespace = "NativeAdaBelief.Interop";

    private static readonly Assembly LibraryAssembly = typeof(NativeAdaBelief.Interop.NativeMethods).Assembly;

    /// <summary>Every struct in the C report has a C# struct of the same name, size and field offsets.</summary>
    [Fact]
    public void EveryCStructHasACSharpStructWithTheSameLayout()
    {
        var report = LoadReport();
        Assert.NotEmpty(report);

        var problems = new List<string>();
        foreach (var c in report)
        {
            Type? type = LibraryAssembly.GetType($"{InteropNamespace}.{c.Name}", throwOnError: false);
            if (type is null || !type.IsValueType || type.IsEnum)
            {
                problems.Add($"{c.Name}: no struct {InteropNamespace}.{c.Name} in {LibraryAssembly.GetName().Name}");
                continue;
            }

            int managedSize = Marshal.SizeOf(type);
            if (managedSize != c.Size)
            {
                problems.Add($"{c.Name}: C sizeof = {c.Size}, C# Marshal.SizeOf = {managedSize}");
            }

            var managedFields = InstanceFields(type);
            foreach (var (field, offset) in c.Fields)
            {
                if (!managedFields.Contains(field))
                {
                    problems.Add($"{c.Name}.{field}: C field (offset {offset}) missing from the C# struct");
                    continue;
                }
                long managedOffset = Marshal.OffsetOf(type, field).ToInt64();
                if (managedOffset != offset)
                {
                    problems.Add($"{c.Name}.{field}: C offsetof = {offset}, C# Marshal.OffsetOf = {managedOffset}");
                }
            }
            foreach (string extra in managedFields.Where(f => !c.Fields.Any(cf => cf.Field == f)))
            {
                problems.Add($"{c.Name}.{extra}: C# field has no C counterpart");
            }
        }

        Assert.True(problems.Count == 0,
            "C# interop structs do not match the C layout (regenerate with " +
            "'dotnet run --project bindings/NativeAdaBelief.Bindings -- generate'):\n  " +
            string.Join("\n  ", problems));
    }

    /// <summary>Every C# struct in the interop namespace mirrors a struct in the C report.</summary>
    [Fact]
    public void EveryCSharpInteropStructAppearsInTheReport()
    {
        var reported = LoadReport().Select(s => s.Name).ToHashSet(StringComparer.Ordinal);

        var interopStructs = LibraryAssembly.GetTypes()
            .Where(t => t.Namespace == InteropNamespace && !t.IsNested && t.IsValueType && !t.IsEnum &&
                        !t.IsByRefLike && // ref structs (call-scope helpers) can never cross the ABI
                        !t.IsDefined(typeof(CompilerGeneratedAttribute), inherit: false))
            .Select(t => t.Name)
            .OrderBy(n => n, StringComparer.Ordinal)
            .ToList();
        Assert.NotEmpty(interopStructs);

        var missing = interopStructs.Where(n => !reported.Contains(n)).ToList();
        Assert.True(missing.Count == 0,
            $"C# structs in {InteropNamespace} with no C struct in the layout report " +
            "(the interop namespace holds only generated mirrors of the header's structs): " +
            string.Join(", ", missing));
    }

    /// <summary>
    /// The structs and fields of the mixed-precision ABI (version 2) are in the report, so the
    /// two tests above compare their layouts too: the step options and report, and the element
    /// types and master-copy flag of the tensor description and info. (A stale report, built from
    /// an older header, would otherwise pass while checking nothing of them.)
    /// </summary>
    [Theory]
    [InlineData("nab_step_options", "struct_size,skip_nonfinite,inverse_gradient_scale,max_gradient_norm,compute_gradient_norm,reserved")]
    [InlineData("nab_step_report", "struct_size,gradients_checked,skipped,step_count_exhausted,nonfinite_count,gradient_norm,gradient_scale,step_calls,stale_graph,reserved")]
    [InlineData("nab_tensor_desc", "struct_size,group_id,element_count,parameters,gradients,parameter_dtype,gradient_dtype,master_parameters,reserved")]
    [InlineData("nab_tensor_info", "struct_size,group_id,element_count,step,has_max_second_moment,has_gradients,parameter_dtype,gradient_dtype,has_master_parameters,reserved,state_encoding")]
    public void TheReportCoversTheMixedPrecisionStructs(string name, string fields)
    {
        CStruct? c = LoadReport().SingleOrDefault(s => s.Name == name);
        Assert.True(c is not null, $"{name} is not in the layout report: regenerate and rebuild native/tests/abi_layout");
        Assert.Equal(fields.Split(','), c.Fields.OrderBy(f => f.Offset).Select(f => f.Field));
        Type? type = LibraryAssembly.GetType($"{InteropNamespace}.{name}", throwOnError: false);
        Assert.NotNull(type);
        Assert.Equal(c.Size, Marshal.SizeOf(type));
    }

    private static HashSet<string> InstanceFields(Type type) =>
        type.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic)
            .Select(f => f.Name)
            .ToHashSet(StringComparer.Ordinal);

    private sealed record CStruct(string Name, long Size, IReadOnlyList<(string Field, long Offset)> Fields);

    private static List<CStruct> LoadReport()
    {
        string? path = Environment.GetEnvironmentVariable(ReportVariable);
        if (string.IsNullOrWhiteSpace(path))
        {
            Assert.Fail(
                $"{ReportVariable} is not set: it must name the JSON layout report printed by the C program " +
                "native/tests/abi_layout/abi_layout_report.g.c. Run the tests with ./build.sh test, which builds " +
                "and runs that program and sets the variable.");
        }
        if (!File.Exists(path))
        {
            Assert.Fail($"{ReportVariable}={path}: the file does not exist. Run ./build.sh test.");
        }

        using var doc = JsonDocument.Parse(File.ReadAllText(path));
        var result = new List<CStruct>();
        foreach (var s in doc.RootElement.EnumerateObject())
        {
            var fields = s.Value.GetProperty("fields").EnumerateObject()
                .Select(f => (f.Name, f.Value.GetInt64()))
                .ToList();
            result.Add(new CStruct(s.Name, s.Value.GetProperty("size").GetInt64(), fields));
        }
        return result;
    }
}
