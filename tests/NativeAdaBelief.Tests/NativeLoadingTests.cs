using NativeAdaBelief.Interop;

namespace NativeAdaBelief.Tests;

/// <summary>
/// The loader's search and its failure message, exercised by calling the search function
/// directly (the process has long since loaded the real library, so a missing library can only
/// be simulated by pointing the search at places where there is none).
/// </summary>
public sealed class NativeLoadingTests : IDisposable
{
    private readonly string _empty = Directory.CreateTempSubdirectory("nab-loader-").FullName;

    public void Dispose() => Directory.Delete(_empty, recursive: true);

    [Fact]
    public void A_missing_library_lists_every_place_tried_and_what_to_do()
    {
        string file = NativeLibraryLoader.PlatformFileName;
        string rid = NativeLibraryLoader.RuntimeIdentifiers()[0];
        var e = Assert.Throws<NativeLibraryNotFoundException>(() => NativeLibraryLoader.Load(null, _empty, name => 0, out _));

        Assert.IsAssignableFrom<DllNotFoundException>(e);
        string[] expected =
        [
            Path.Combine(_empty, "runtimes", rid, "native", file),
            Path.Combine(_empty, file),
        ];
        foreach (string path in expected)
        {
            Assert.Contains(path, e.SearchedPaths);
            Assert.Contains(path, e.Message, StringComparison.Ordinal);
        }
        Assert.Contains("default probing", e.Message, StringComparison.Ordinal);
        Assert.Contains("NATIVE_ADABELIEF_LIBRARY", e.Message, StringComparison.Ordinal);
        Assert.Contains("./build.sh native", e.Message, StringComparison.Ordinal);
        Assert.Contains("no such file", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_override_that_names_no_file_is_an_error_not_a_fall_back()
    {
        // A loadable library sits in the application directory: the override must still win, and fail.
        NativeAdaBeliefLibrary.EnsureLoaded();
        string real = NativeAdaBeliefLibrary.LoadedFrom!;
        File.Copy(real, Path.Combine(_empty, NativeLibraryLoader.PlatformFileName));
        string bogus = Path.Combine(_empty, "nonexistent", NativeLibraryLoader.PlatformFileName);
        int probes = 0;
        var e = Assert.Throws<NativeLibraryNotFoundException>(() => NativeLibraryLoader.Load(bogus, _empty, name => { probes++; return 0; }, out _));
        Assert.Equal([bogus], e.SearchedPaths);
        Assert.Equal(0, probes);
        Assert.Contains($"NATIVE_ADABELIEF_LIBRARY is set to '{bogus}', which names no file", e.Message, StringComparison.Ordinal);
        Assert.Contains("nothing else was tried", e.Message, StringComparison.Ordinal);

        string notALibrary = Path.Combine(_empty, "fake.so");
        File.WriteAllText(notALibrary, "not an ELF file");
        e = Assert.Throws<NativeLibraryNotFoundException>(() => NativeLibraryLoader.Load(notALibrary, _empty, null, out _));
        Assert.Contains("is not a library this process can load", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_file_that_is_not_a_loadable_library_says_why()
    {
        string fake = Path.Combine(_empty, NativeLibraryLoader.PlatformFileName);
        File.WriteAllText(fake, "not an ELF file");
        var e = Assert.Throws<NativeLibraryNotFoundException>(() => NativeLibraryLoader.Load(null, _empty, null, out _));
        Assert.Contains($"{fake}: found but could not be loaded", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("default probing", e.Message, StringComparison.Ordinal); // skipped when not asked for
    }

    [Fact]
    public void The_override_path_wins_when_it_exists()
    {
        NativeAdaBeliefLibrary.EnsureLoaded();
        string real = NativeAdaBeliefLibrary.LoadedFrom ?? throw new InvalidOperationException("library not loaded");
        Assert.True(File.Exists(real), $"expected the test run to have loaded a file, not '{real}'");
        nint handle = NativeLibraryLoader.Load(real, _empty, null, out string from);
        Assert.NotEqual(0, handle);
        Assert.Equal(real, from);
    }

    [Fact]
    public void The_NuGet_layout_is_searched_before_the_assembly_directory()
    {
        string file = NativeLibraryLoader.PlatformFileName;
        IReadOnlyList<string> paths = NativeLibraryLoader.CandidatePaths(_empty);
        Assert.Equal(Path.Combine(_empty, "runtimes", NativeLibraryLoader.RuntimeIdentifiers()[0], "native", file), paths[0]);
        Assert.Equal(Path.Combine(_empty, file), paths[^1]);
        string expectedRid = (OperatingSystem.IsWindows() ? "win-" : OperatingSystem.IsMacOS() ? "osx-" : "linux-")
            + System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture.ToString().ToLowerInvariant();
        Assert.Equal(expectedRid, NativeLibraryLoader.RuntimeIdentifiers()[0]);
    }

    [Fact]
    public void The_loaded_library_came_from_next_to_the_assembly_or_the_override()
    {
        NativeAdaBeliefLibrary.EnsureLoaded();
        string? from = NativeAdaBeliefLibrary.LoadedFrom;
        string? overridePath = Environment.GetEnvironmentVariable(NativeLibraryLoader.PathVariable);
        Assert.True(
            from == overridePath || from == Path.Combine(AppContext.BaseDirectory, NativeLibraryLoader.PlatformFileName),
            $"loaded from '{from}'");
    }

    [Fact]
    public void An_abi_version_mismatch_is_refused_with_both_versions()
    {
        var e = Assert.Throws<NativeAdaBeliefException>(() => NativeRuntime.CheckAbiVersion(7, 1, "/opt/lib/libnative_adabelief.so"));
        Assert.Contains("ABI version 7", e.Message, StringComparison.Ordinal);
        Assert.Contains("ABI version 1", e.Message, StringComparison.Ordinal);
        Assert.Contains("/opt/lib/libnative_adabelief.so", e.Message, StringComparison.Ordinal);
        NativeRuntime.CheckAbiVersion(1, 1, null); // equal: fine
    }

    [Fact]
    public void The_native_and_managed_versions_are_the_same()
    {
        Version managed = typeof(AdaBeliefOptimizer).Assembly.GetName().Version!;
        Assert.Equal($"{managed.Major}.{managed.Minor}.{managed.Build}", NativeAdaBeliefLibrary.Version);
    }
}
