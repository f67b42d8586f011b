using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;

namespace NativeAdaBelief.Tests;

/// <summary>
/// What a consumer publishing with <c>PublishAot=true</c> (or single-file) would be warned about,
/// checked in the shipped assembly's IL (a source <c>#pragma</c> hides a warning from the library's
/// own build, not from a consumer's ILC): no <c>Assembly.Location</c> (IL3000) or
/// <c>Assembly.GetFile(s)</c> (IL3001). A consumer-side native AOT publish needs the ILCompiler
/// package from nuget.org, which this offline build cannot fetch; the library's own build runs the
/// AOT and single-file analyzers (IsAotCompatible) with warnings as errors.
/// </summary>
public sealed class AotCompatibilityTests
{
    [Fact]
    public void The_assembly_calls_nothing_that_warns_single_file_or_aot_consumers()
    {
        string path = typeof(AdaBeliefOptimizer).Assembly.Location;
        using var stream = File.OpenRead(path);
        using var pe = new PEReader(stream);
        MetadataReader reader = pe.GetMetadataReader();
        var offending = new List<string>();
        foreach (MemberReferenceHandle handle in reader.MemberReferences)
        {
            MemberReference member = reader.GetMemberReference(handle);
            string name = reader.GetString(member.Name);
            if (member.Parent.Kind != HandleKind.TypeReference)
            {
                continue;
            }
            TypeReference type = reader.GetTypeReference((TypeReferenceHandle)member.Parent);
            string typeName = $"{reader.GetString(type.Namespace)}.{reader.GetString(type.Name)}";
            if (typeName == "System.Reflection.Assembly" && name is "get_Location" or "GetFile" or "GetFiles" or "get_CodeBase" or "get_EscapedCodeBase")
            {
                offending.Add($"{typeName}.{name}");
            }
        }
        Assert.Empty(offending);
        Assert.True(reader.MemberReferences.Count > 100, "the scan should see the assembly's member references");
    }
}

/// <summary>The package's README stands on its own: every link absolute, under the project URL the package metadata carries, to a file that exists.</summary>
public sealed class PackageReadmeTests
{
    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Directory.Build.props")) && Directory.Exists(Path.Combine(dir.FullName, "docs")))
            {
                return dir.FullName;
            }
        }
        throw new InvalidOperationException("the repository root was not found above " + AppContext.BaseDirectory);
    }

    [Fact]
    public void Every_link_is_absolute_under_the_project_url_and_points_at_a_file()
    {
        string root = RepositoryRoot();
        string props = File.ReadAllText(Path.Combine(root, "Directory.Build.props"));
        var url = System.Text.RegularExpressions.Regex.Match(props, "<NabProjectUrl>([^<]+)</NabProjectUrl>").Groups[1].Value;
        Assert.StartsWith("https://", url);
        string readme = File.ReadAllText(Path.Combine(root, "src", "NativeAdaBelief", "README.md"));
        var links = System.Text.RegularExpressions.Regex.Matches(readme, @"\]\(([^)]+)\)").Select(m => m.Groups[1].Value).ToList();
        Assert.NotEmpty(links);
        Assert.Contains(url, readme, StringComparison.Ordinal);
        foreach (string link in links)
        {
            Assert.StartsWith(url + "/blob/main/", link);
            string file = link[(url + "/blob/main/").Length..].Split('#')[0];
            Assert.True(File.Exists(Path.Combine(root, file)), $"{link}: no {file} in the repository");
        }
    }
}
