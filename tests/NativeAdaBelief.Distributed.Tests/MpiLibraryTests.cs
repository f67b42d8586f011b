using NativeAdaBelief.Distributed.Mpi;

namespace NativeAdaBelief.Distributed.Tests;

/// <summary>Finding the MPI library at run time.</summary>
public sealed class MpiLibraryTests
{
    [Fact]
    public void The_launchers_environment_orders_the_candidates()
    {
        Assert.Equal(["libmpich.so.12", "libmpi.so.12", "libmpi.so.40"], MpiLibrary.Candidates(_ => null));
        Assert.Equal(["libmpi.so.40", "libmpich.so.12", "libmpi.so.12"],
            MpiLibrary.Candidates(name => name == "OMPI_COMM_WORLD_SIZE" ? "2" : null));
        Assert.Equal(["/opt/mpi/lib/libmpi.so"],
            MpiLibrary.Candidates(name => name == MpiLibrary.PathVariable ? "/opt/mpi/lib/libmpi.so" : null));
    }

    [Fact]
    public void A_missing_library_is_an_error_naming_what_was_tried_and_what_to_install()
    {
        string? saved = Environment.GetEnvironmentVariable(MpiLibrary.PathVariable);
        Environment.SetEnvironmentVariable(MpiLibrary.PathVariable, "/nonexistent/libmpi-for-the-test.so");
        try
        {
            var e = Assert.Throws<MpiLibraryNotFoundException>(MpiLibrary.Load);
            Assert.Equal(["/nonexistent/libmpi-for-the-test.so"], e.SearchedLibraries);
            Assert.Contains("/nonexistent/libmpi-for-the-test.so: ", e.Message, StringComparison.Ordinal);
            Assert.Contains("apt-get install mpich", e.Message, StringComparison.Ordinal);
        }
        finally
        {
            Environment.SetEnvironmentVariable(MpiLibrary.PathVariable, saved);
        }
    }

    [Fact]
    public void A_library_that_is_no_mpi_is_refused()
    {
        string? saved = Environment.GetEnvironmentVariable(MpiLibrary.PathVariable);
        Environment.SetEnvironmentVariable(MpiLibrary.PathVariable, "libz.so.1");
        try
        {
            var e = Assert.Throws<MpiLibraryNotFoundException>(MpiLibrary.Load);
            Assert.Contains("libz.so.1: loaded, but it is neither Open MPI nor of the MPICH family", e.Message, StringComparison.Ordinal);
        }
        finally
        {
            Environment.SetEnvironmentVariable(MpiLibrary.PathVariable, saved);
        }
    }
}
