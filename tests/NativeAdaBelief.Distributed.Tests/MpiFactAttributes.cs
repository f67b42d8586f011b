namespace NativeAdaBelief.Distributed.Tests;

/// <summary>A test that launches MPICH ranks: reported as skipped, with what to install, where MPICH is missing.</summary>
public sealed class MpichFactAttribute : FactAttribute
{
    /// <summary>Sets <see cref="FactAttribute.Skip"/> when <c>mpiexec.mpich</c> is not on the PATH.</summary>
    public MpichFactAttribute()
    {
        if (MpiLauncher.Mpich is null)
        {
            Skip = "MPICH is not installed (no mpiexec.mpich on the PATH): apt-get install mpich (./build.sh test installs it when run as root)";
        }
    }
}

/// <summary>A test that launches Open MPI ranks: reported as skipped, with what to install, where Open MPI is missing.</summary>
public sealed class OpenMpiFactAttribute : FactAttribute
{
    /// <summary>Sets <see cref="FactAttribute.Skip"/> when <c>mpirun.openmpi</c> is not on the PATH.</summary>
    public OpenMpiFactAttribute()
    {
        if (MpiLauncher.OpenMpi is null)
        {
            Skip = "Open MPI is not installed (no mpirun.openmpi on the PATH): apt-get install openmpi-bin (./build.sh test installs it when run as root)";
        }
    }
}
